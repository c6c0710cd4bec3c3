"""A learned postfilter for over-smoothed mels: each frame's spectrum through a small CNN.

A model trained with an L1/L2 loss predicts the average of what its targets might be, and the
harmonics (a ripple over the mel bins) are what averaging blurs first. `MelPostfilter` reads
one frame at a time as a signal over the mel bins (with the bin's position as a second input
channel, since harmonics lie closer together in mel bins as frequency rises) and adds a residual:

    refined = mel + out(body(inp([mel, position])))

It is trained adversarially against a teacher's mels (ttsfw/train/postfilter.py): a
discriminator over time and frequency makes it put back fine structure that an L1 loss alone
would average away. Each frame is filtered on its own, so streams need no extra context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ConfigError
from ...weights.load import load_checkpoint, unwrap
from .sharpen import sharpen

#: the dilations of the body's residual convolutions
DILATIONS = (1, 2, 1, 2)


class MelPostfilter(nn.Module):
    """mel (B, n_mel, T) -> refined mel (B, n_mel, T); frames are filtered independently."""

    def __init__(self, n_mel_channels: int = 80, channels: int = 32, kernel_size: int = 7):
        super().__init__()
        self.config = {"n_mel_channels": n_mel_channels, "channels": channels, "kernel_size": kernel_size}
        pad = kernel_size // 2
        self.inp = nn.Conv1d(2, channels, kernel_size, padding=pad)
        self.body = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=pad * d, dilation=d) for d in DILATIONS
        )
        self.out = nn.Conv1d(channels, 1, kernel_size, padding=pad)
        nn.init.zeros_(self.out.weight)  # starts as the identity
        nn.init.zeros_(self.out.bias)
        self.register_buffer("position", torch.linspace(-1.0, 1.0, n_mel_channels), persistent=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        batch, n_mel, frames = mel.shape
        spectra = mel.transpose(1, 2).reshape(batch * frames, 1, n_mel)  # a row per frame
        position = self.position.to(mel.dtype).expand(batch * frames, 1, n_mel)
        hidden = F.leaky_relu(self.inp(torch.cat((spectra, position), 1)), 0.2)
        for conv in self.body:
            hidden = hidden + F.leaky_relu(conv(hidden), 0.2)
        refined = spectra + self.out(hidden)
        return refined.reshape(batch, frames, n_mel).transpose(1, 2)


def refine(
    mel_postnet: torch.Tensor, gain: float, postfilter: Callable[[torch.Tensor], torch.Tensor] | None
) -> torch.Tensor:
    """The postnet's mel (B, n_mel, T) through the postfilters: its fine structure scaled by
    `gain` (sharpen.py), then the learned `postfilter` (None: none). Both are frame-local."""
    mel = sharpen(mel_postnet, gain)
    return mel if postfilter is None else postfilter(mel)


def load_postfilter(path: str | Path, n_mel_channels: int | None = None) -> MelPostfilter:
    """A ``{'state_dict', 'config'}`` file (weights_only) -> an fp32 MelPostfilter in eval mode;
    `n_mel_channels`, the acoustic model's, is checked if given."""
    state_dict, config = unwrap(load_checkpoint(path, map_location="cpu"), path)
    options: dict[str, Any] = dict(config or {})
    if n_mel_channels is not None and options.get("n_mel_channels", 80) != n_mel_channels:
        raise ConfigError(
            f"acoustic.postfilter {path} filters {options.get('n_mel_channels', 80)} mel "
            f"channels, but the acoustic model makes {n_mel_channels}"
        )
    try:
        postfilter = MelPostfilter(**options)
        postfilter.load_state_dict({k: v.float() for k, v in state_dict.items()})
    except (TypeError, RuntimeError) as exc:
        raise ConfigError(f"acoustic.postfilter {path} is not a MelPostfilter file: {exc}") from exc
    return postfilter.eval()
