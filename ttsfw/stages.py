"""Stage interfaces: the contracts every component (built-in or plugin) fulfils.

Shapes are part of the contract. B = batch, T_in = input symbols, T_out = mel frames,
N = audio samples. Every stage returns items in the caller's order, even when it sorts
internally.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Frontend:
    """Text -> symbol ids."""

    #: the symbol table (index = id)
    symbols: Sequence[str] = ()

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `ids` LongTensor (B, T_in), zero-padded, and `lengths` LongTensor (B,)."""
        raise NotImplementedError

    def unspeakable(self, text: str) -> list[str]:
        """Characters of `text` that this frontend cannot speak (default: none known)."""
        return []


class MaxDecoderStepsWarning(UserWarning):
    """Items reached max_decoder_steps (decoder steps of `frames_per_step` frames each) without
    the stop gate firing (``items``: caller indices). An acoustic model warns with it for direct
    callers; the pipeline silences it and reports the cuts that remain after its own handling
    (retry by halves), naming the line."""

    def __init__(self, items: list[int], max_steps: int, frames_per_step: int = 1):
        self.items = items
        self.max_steps = max_steps
        super().__init__(
            f"the acoustic model reached max_decoder_steps={max_steps} without the stop gate firing for "
            f"batch item(s) {items}: their speech is cut at {max_steps * frames_per_step} frames "
            f"(raise acoustic.max_decoder_steps for long sentences; a text without final "
            f"punctuation may never stop)"
        )


class AcousticModel(nn.Module):
    """Symbol ids -> mel spectrogram."""

    n_mel_channels: int = 80
    sample_rate: int = 22050
    hop_length: int = 256
    #: batch rows (caller order) that the last `infer` cut at its step limit
    last_hit_max_steps: Sequence[int] = ()

    def infer(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> mel (B, n_mel, T_out), mel_lengths (B,),
        alignments (B, T_out / r, T_in), one row per decoder step of r frames (r = 1 for most
        models). `generator` drives any sampling (None: global RNG)."""
        raise NotImplementedError


class Vocoder(nn.Module):
    """Mel spectrogram -> waveform."""

    n_mel_channels: int = 80
    sample_rate: int = 22050
    hop_length: int = 256

    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel (B, n_mel, T_out) -> audio (B, T_out * hop_length), float in [-1, 1].
        `generator` drives any sampling (None: global RNG)."""
        raise NotImplementedError


class Denoiser(nn.Module):
    """Waveform -> waveform, built from a vocoder."""

    def forward(self, audio: torch.Tensor, strength: float) -> torch.Tensor:
        """audio (B, N) -> audio (B, N)."""
        raise NotImplementedError
