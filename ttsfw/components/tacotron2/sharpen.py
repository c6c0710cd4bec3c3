"""Fine structure of the mel, sharpened along frequency: a postfilter against over-smoothing.

A model trained with an L1/L2 loss predicts the average of what its targets might be, and the
harmonics of the voice (a ripple over the mel bins, a few bins apart below ~1 kHz) are what
averaging blurs first. Per frame, the mel is split into its envelope (the mean of the
`ENVELOPE_BINS` bins around each bin) and what is left, and what is left is scaled:

    sharpened = envelope + fine_structure_gain * (mel - envelope)

Gain 1 returns the mel itself (NVIDIA's output, untouched); voice=joe_hifigan uses 2, chosen
on the val split (docs/voice.md). Each frame is filtered on its own, so a stream's frames are
exactly the whole mel's.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

#: mel bins averaged into the envelope (odd: centred on each bin); wider than the harmonic
#: spacing of a speaking voice below 1 kHz (2-4 of the 80 bins of a 22,050 Hz mel)
ENVELOPE_BINS = 5


def envelope(mel: torch.Tensor) -> torch.Tensor:
    """mel (B, n_mel, T) -> (B, n_mel, T): each bin the mean of ENVELOPE_BINS bins around it
    (the edge bins repeated beyond the ends)."""
    half = ENVELOPE_BINS // 2
    frames = F.pad(mel.transpose(1, 2), (half, half), mode="replicate")  # (B, T, n_mel + 2 half)
    return frames.unfold(2, ENVELOPE_BINS, 1).mean(-1).transpose(1, 2)


def sharpen(mel: torch.Tensor, gain: float) -> torch.Tensor:
    """mel (B, n_mel, T) -> (B, n_mel, T) with its fine structure scaled by `gain` (1: `mel`)."""
    if gain == 1.0:
        return mel
    smooth = envelope(mel)
    return smooth + gain * (mel - smooth)
