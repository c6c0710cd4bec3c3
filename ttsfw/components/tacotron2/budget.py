"""The decoder's step limit per row: ``max_decoder_steps`` for every row, and, with
``max_frames_per_symbol`` set, a frame budget from the row's input length, so that a row whose
stop gate never fires (babble on an unseen text) is cut near the most speech its text can
hold instead of at max_decoder_steps (23 s at r=1, 46 s at r=2).

    budget frames(row) = max_frames_per_symbol * input symbols + frame_budget_base
    limit(row) = ceil(budget frames / r) decoder steps, at most max_decoder_steps

(``frame_budget_base`` covers what every clip has whatever its length: the silence at its ends.)

A row at its limit is forced to stop: it keeps all the frames of its limit (mel_length =
limit * r) and is reported with the rows cut at max_decoder_steps (``hit_max_steps``).
With ``max_frames_per_symbol`` null (NVIDIA's decoding, the default) the limit is
max_decoder_steps for every row, and decoding is exactly DLE's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .model import Tacotron2Config


def step_limits(pad_mask: torch.Tensor, config: "Tacotron2Config") -> torch.Tensor:
    """pad_mask (B, T_in), True at padding -> (B,) int32 decoder steps each row may take."""
    lengths = (~pad_mask).sum(1)
    limits = torch.full(
        lengths.shape, config.max_decoder_steps, dtype=torch.int32, device=lengths.device
    )
    if config.max_frames_per_symbol is None:
        return limits
    frames = lengths.double() * config.max_frames_per_symbol + config.frame_budget_base
    budget = torch.ceil(frames / config.n_frames_per_step).to(torch.int32)
    return torch.minimum(limits, budget.clamp(min=1))


def budget_frames(
    symbols: int, frames_per_step: int, max_frames_per_symbol: float, frame_budget_base: float = 0.0
) -> int:
    """The frame budget of one row of `symbols` input symbols (a whole number of steps)."""
    frames = symbols * max_frames_per_symbol + frame_budget_base
    return max(1, math.ceil(frames / frames_per_step)) * frames_per_step


def cut_rows(mel_lengths: torch.Tensor, limits: torch.Tensor, frames_per_step: int) -> list[int]:
    """mel_lengths (B,), limits (B,) steps -> the rows that decoded their whole limit."""
    return (mel_lengths == limits * frames_per_step).nonzero().flatten().tolist()


def still_going(
    not_finished: torch.Tensor,
    gate_logit: torch.Tensor,
    gate_threshold: float,
    step: int | torch.Tensor,
    limits: torch.Tensor | None,
) -> torch.Tensor:
    """The rows (B,) int32 not stopped after 0-based `step` (an int, or a 0-d tensor on the
    rows' device, as a CUDA graph reads it): those still going whose
    sigmoid(gate) <= `gate_threshold` and whose limit (B,) steps is not reached."""
    going = torch.sigmoid(gate_logit) <= gate_threshold
    if limits is not None:
        going = going & (step < limits)
    return not_finished * going.to(torch.int32)
