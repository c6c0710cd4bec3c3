"""The template's component: a Vocoder, built from its config node."""

from __future__ import annotations

from typing import Any

import torch

from ttsfw import BuildContext, Vocoder
from ttsfw.errors import ConfigError


class TemplateVocoder(Vocoder):
    """Natural-log mel (B, n_mel, T_out) -> audio (B, T_out * hop_length) in [-1, 1]: white noise
    whose loudness follows each frame's mel energy, the loudest frame at `gain`."""

    def __init__(self, gain: float, sample_rate: int, hop_length: int, n_mel_channels: int):
        super().__init__()
        self.gain = gain
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.n_mel_channels = n_mel_channels

    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        energy = mel.float().exp().mean(1)  # (B, T_out)
        envelope = (energy / energy.amax(1, keepdim=True).clamp(min=1e-8)).repeat_interleave(self.hop_length, 1)
        noise = torch.rand(envelope.shape, generator=generator, device=mel.device) * 2 - 1
        return (self.gain * envelope * noise).clamp(-1.0, 1.0)


def build_template_vocoder(cfg: Any, context: BuildContext) -> TemplateVocoder:
    """Factory for the ``vocoder: {name: template, gain: ..., ...}`` config node."""
    if not 0 < float(cfg.gain) <= 1:
        raise ConfigError(f"vocoder.gain must be in (0, 1], got {cfg.gain}")
    return TemplateVocoder(float(cfg.gain), int(cfg.sample_rate), int(cfg.hop_length), int(cfg.n_mel_channels))
