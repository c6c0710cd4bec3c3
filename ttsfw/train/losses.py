"""Tacotron2 training losses: masked mel MSE, stop-gate BCE and guided attention.

Guided attention (Tachibana et al. 2018): penalise attention far from the diagonal,
W[t, n] = 1 - exp(-(n / N - t / T)^2 / (2 g^2)), so alignment is learned in few steps; t counts
decoder steps (one attention row each, r mel frames each). The penalty is averaged per decoder
step (each step's weights sum to 1), not per (step, symbol) cell, which would shrink it by the
text length and leave it too weak to steer the attention.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .data import Batch
from .teacher_forcing import TrainingOutput


def guided_attention_weights(
    text_lengths: torch.Tensor, step_lengths: torch.Tensor, width: float, t_steps: int, t_in: int
) -> torch.Tensor:
    """(B, t_steps, t_in) penalties, 0 on each item's diagonal, 0 outside its valid region."""
    steps = torch.arange(t_steps, device=step_lengths.device)
    t = steps[None, :, None] / step_lengths[:, None, None]
    n = torch.arange(t_in, device=text_lengths.device)[None, None, :] / text_lengths[:, None, None]
    weights = 1.0 - torch.exp(-((n - t) ** 2) / (2 * width**2))
    valid = (t < 1) & (n < 1)
    return weights * valid


def tacotron2_losses(
    out: TrainingOutput, batch: Batch, guide_width: float, gate_pos_weight: float
) -> dict[str, torch.Tensor]:
    """Each loss term, averaged over valid frames or steps (padding, including the frames that
    pad the last step to r, does not count, except for the gate)."""
    frames = torch.arange(batch.mels.shape[2], device=batch.mels.device)
    valid = (frames[None, :] < batch.mel_lengths[:, None]).unsqueeze(1)  # (B, 1, T_out)
    count = valid.sum() * batch.mels.shape[1]
    mel = ((out.mel - batch.mels) ** 2 * valid).sum() / count
    postnet = ((out.mel_postnet - batch.mels) ** 2 * valid).sum() / count
    gate = F.binary_cross_entropy_with_logits(
        out.gate, batch.gate_targets, pos_weight=out.gate.new_tensor(gate_pos_weight)
    )
    guide = guided_attention_weights(
        batch.text_lengths, batch.step_lengths, guide_width, *out.alignments.shape[1:]
    )
    attention = (out.alignments * guide).sum() / batch.step_lengths.sum()  # off-diagonal per step
    return {"mel": mel, "postnet": postnet, "gate": gate, "attention": attention}
