"""What every run records beside its results: versions, and JSON files written atomically."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from . import __version__


def versions() -> dict[str, Any]:
    """ttsfw, torch, Python and every loaded plugin's distribution and version."""
    from .plugins import plugin_infos

    return {
        "ttsfw": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "plugins": {p.name: f"{p.distribution} {p.version}" for p in plugin_infos()},
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
