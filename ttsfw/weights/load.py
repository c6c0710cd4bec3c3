"""Safe checkpoint loading shared by every component.

Files are read with ``torch.load(weights_only=True)`` and an explicit ``map_location``; no
code is ever unpickled here (see ``ttsfw.weights.convert`` for the explicit, opt-in legacy path).
Files are identified by content, never by name.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from ..errors import CheckpointError, LegacyCheckpointError

_PREFIXES = ("module.1.", "module.")

Model = TypeVar("Model")


class RandomWeightsWarning(UserWarning):
    """A component was built with random weights: what it makes is noise, not speech."""


def random_weights(seed: int, build: Callable[[], Model]) -> Model:
    """``checkpoint: random``: build a model whose initial weights come from `seed`, leaving
    the global RNG as it was (tests and benchmarks). Warns that its output is noise."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = build()
    warnings.warn(
        f"{type(model).__name__} has random weights (checkpoint=random): its output is noise, "
        "not speech (for tests and benchmarks)",
        RandomWeightsWarning,
        stacklevel=2,
    )
    return model


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint file safely (tensors, dicts, lists and primitives only).

    Raises LegacyCheckpointError for a file of pickled Python objects (see ``convert``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path} (check the path, or fetch it with "
            f"`python -m ttsfw download NAME`)"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(exc)
        if "Unsupported global" not in reason and "persistent_load" not in reason:
            raise CheckpointError(
                f"{path} is not a torch checkpoint or is corrupt ({reason}); check the file"
            ) from None
        raise LegacyCheckpointError(
            f"{path} holds pickled Python objects, not just tensors ({reason}). If it is a "
            f"whole-model NVIDIA/waveglow file and you trust its source, convert it once with "
            f"`python -m ttsfw convert {path} OUT.pt --trust` (in Python: "
            f"`ttsfw.load_waveglow(path, trust=True)`)"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        with open(path, "rb") as file:
            kind = "zip" if file.read(4) == b"PK\x03\x04" else "legacy"
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint ({kind} container; truncated or "
            f"corrupt? {_first_line(exc)})"
        ) from None


def strip_module_prefix(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Remove one leading ``module.1.`` or ``module.`` (DataParallel/DDP wrappers) per key."""
    out = {}
    for key, value in state_dict.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def unwrap(obj: Any, path: str | Path = "checkpoint") -> tuple[dict[str, torch.Tensor], dict | None]:
    """Find the state dict (and the constructor config, if stored) in a loaded checkpoint.

    Accepts ``{'state_dict': ..., 'config': ...}`` (DLE/NGC, NVIDIA/tacotron2) and bare state
    dicts; strips a leading ``module.``/``module.1.``.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    config = None
    if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        config = obj.get("config") if isinstance(obj.get("config"), Mapping) else None
        obj = obj["state_dict"]
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {sorted(map(str, obj))[:8]})"
        )
    return strip_module_prefix(tensors), dict(config) if config is not None else None


def _unpickler_reason(exc: BaseException) -> str:
    """The one informative line of torch's long weights_only error."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].split(" was not an allowed global")[0] if lines else "unreadable pickle"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
