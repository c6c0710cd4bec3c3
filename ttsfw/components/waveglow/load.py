"""`load_waveglow`: a DLE/NGC or NVIDIA/waveglow file -> a WaveGlow for inference."""

from __future__ import annotations

from pathlib import Path

from ...errors import LegacyCheckpointError
from ...weights.convert import read_pickled_model
from ...weights.load import load_checkpoint, unwrap
from .model import WaveGlow


def load_waveglow(path: str | Path, sigma: float = 0.6, *, trust: bool = False) -> WaveGlow:
    """Load a WaveGlow checkpoint (DLE/NGC, an NVIDIA/waveglow state dict, a converted pickle)
    into an fp32 CPU model in eval mode. Sizes come from the tensor shapes (a stored config is
    ignored); `sigma` is the noise scale `infer` uses by default.

    A whole-model NVIDIA/waveglow pickle (``{'model': glow.WaveGlow}``, e.g.
    ``waveglow_256channels_universal_v5.pt``) raises LegacyCheckpointError unless `trust` is
    True; then its weights are read in memory by the restricted unpickler of
    ``python -m ttsfw convert`` (pass it only for files from a source you trust).
    """
    try:
        tensors, _ = unwrap(load_checkpoint(path), path)
    except LegacyCheckpointError:
        if not trust:
            raise
        tensors = read_pickled_model(Path(path).expanduser())
    model = WaveGlow.from_state_dict(tensors, source=str(path))
    model.sigma = sigma
    return model
