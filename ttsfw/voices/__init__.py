"""Voices shipped inside the package, so ttsfw speaks offline on a fresh machine.

Each is an fp16 weights file (``{'state_dict', 'config'}``: a Tacotron2, or its learned mel
postfilter) loaded with
``weights_only=True``; PROVENANCE.md beside them says how each was made and under which licence.
"""

from __future__ import annotations

from pathlib import Path

VOICES_DIR = Path(__file__).resolve().parent

#: model-store style name -> file in this folder
SHIPPED: dict[str, str] = {"ttsfw_joe": "joe_tacotron2.pt", "ttsfw_joe_postfilter": "joe_postfilter.pt"}


def shipped_path(name: str) -> Path | None:
    """The file of the shipped voice called `name`, else None."""
    return VOICES_DIR / SHIPPED[name] if name in SHIPPED else None
