"""The ``waveglow`` vocoder and ``waveglow_bias`` denoiser factories."""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import ConfigError
from ...registry import BuildContext
from ...weights.option import from_checkpoint_option
from .denoiser import WaveGlowDenoiser
from .load import load_waveglow
from .model import WaveGlow, WaveGlowConfig


def build_waveglow(cfg: Mapping[str, Any], context: BuildContext) -> WaveGlow:
    """Factory for the ``vocoder: {name: waveglow, checkpoint: ..., sigma: ..., ...}`` node."""
    options = dict(cfg)
    options.pop("name", None)
    checkpoint = options.pop("checkpoint", None)
    init_seed = int(options.pop("init_seed", 0))
    sigma = float(options.pop("sigma", 0.6))
    config = WaveGlowConfig.from_mapping(options)
    if sigma < 0:
        raise ConfigError(f"vocoder.sigma must be >= 0 (got {sigma}); 0.6 is a good default")
    model = from_checkpoint_option(
        checkpoint, "vocoder.checkpoint", "a WaveGlow .pt file", init_seed,
        build_random=lambda: WaveGlow(config, sigma),
        load=lambda path: load_waveglow(path, sigma),
    )
    # reduced precision: the weights are stored in it once, instead of autocast casting them
    # on every call; W^-1 and the affine steps stay float32 (see `WaveGlow`)
    return model.to(context.precision.dtype).eval()


def build_waveglow_bias(cfg: Mapping[str, Any], context: BuildContext) -> WaveGlowDenoiser:
    """Factory for ``denoiser: {name: waveglow_bias, strength: ..., mode: ...}``; needs a WaveGlow
    vocoder."""
    vocoder = context.vocoder
    if not isinstance(vocoder, WaveGlow):
        raise ConfigError(
            f"denoiser=waveglow_bias needs vocoder=waveglow (the vocoder is {type(vocoder).__name__}); "
            f"use denoiser=none with this vocoder"
        )
    strength = float(cfg.strength)
    if strength < 0:
        raise ConfigError(
            f"denoiser.strength must be >= 0 (got {strength}); 0.01 is a good default"
        )
    return WaveGlowDenoiser(vocoder, strength, mode=cfg.mode)
