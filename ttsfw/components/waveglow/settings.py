"""The schemas of the ``vocoder: waveglow`` and ``denoiser: waveglow_bias`` config nodes
(their yaml files have the values and what each means)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING


@dataclass
class WaveGlowSettings:
    name: str = MISSING
    checkpoint: Optional[str] = MISSING
    init_seed: int = MISSING
    sigma: float = MISSING
    n_mel_channels: Optional[int] = MISSING
    n_flows: Optional[int] = MISSING
    n_group: Optional[int] = MISSING
    n_early_every: Optional[int] = MISSING
    n_early_size: Optional[int] = MISSING
    n_layers: Optional[int] = MISSING
    kernel_size: Optional[int] = MISSING
    n_channels: Optional[int] = MISSING


@dataclass
class WaveGlowBiasSettings:
    name: str = MISSING
    strength: float = MISSING
    mode: str = MISSING
