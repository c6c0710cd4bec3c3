"""The rule every component's ``checkpoint:`` option follows (built-ins and plugins alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from ..errors import ConfigError
from .load import random_weights
from .store import resolve_checkpoint

Model = TypeVar("Model")


def from_checkpoint_option(
    checkpoint: Any,
    key: str,
    description: str,
    init_seed: int,
    build_random: Callable[[], Model],
    load: Callable[[Path], Model],
) -> Model:
    """``checkpoint`` (a config value) -> a model. null is a ConfigError naming `key` and what
    it takes (`description`, e.g. "a Tacotron2 .pt file"); ``random`` is `build_random` with
    weights seeded by `init_seed` (and a warning that its output is noise); anything else is
    resolved (a shipped voice, a model-store name, a path) and given to `load`."""
    if checkpoint is None:
        raise ConfigError(
            f"{key} is not set: set {key}=PATH ({description}, or a model-store name), or "
            f"{key}=random for random weights"
        )
    if str(checkpoint) == "random":
        return random_weights(init_seed, build_random)
    return load(resolve_checkpoint(checkpoint))
