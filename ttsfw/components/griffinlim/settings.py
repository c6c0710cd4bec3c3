"""The ``vocoder: griffinlim`` config node's schema (conf/vocoder/griffinlim.yaml has the
values and what each means)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class GriffinLimSettings:
    name: str = MISSING
    n_iter: int = MISSING
    momentum: float = MISSING
    power: float = MISSING
    sample_rate: int = MISSING
    n_fft: int = MISSING
    hop_length: int = MISSING
    win_length: int = MISSING
    n_mel_channels: int = MISSING
    mel_fmin: float = MISSING
    mel_fmax: float = MISSING
