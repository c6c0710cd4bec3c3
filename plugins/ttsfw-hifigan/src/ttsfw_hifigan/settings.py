"""The ``vocoder: hifigan`` config node's schema (conf/vocoder/hifigan_v1.yaml has the values
and what each means); ttsfw stores it as ``schema_vocoder_hifigan`` for the yaml files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from omegaconf import MISSING


@dataclass
class HiFiGANSettings:
    name: str = MISSING
    checkpoint: Optional[str] = MISSING
    init_seed: int = MISSING
    sample_rate: int = MISSING
    n_mel_channels: int = MISSING
    resblock: str = MISSING
    upsample_rates: List[int] = MISSING
    upsample_kernel_sizes: List[int] = MISSING
    upsample_initial_channel: int = MISSING
    resblock_kernel_sizes: List[int] = MISSING
    resblock_dilation_sizes: List[List[int]] = MISSING
