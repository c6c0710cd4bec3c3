"""The training-time forward of Tacotron2: the decoder is fed the target frames.

With r frames per step (n_frames_per_step), step k is fed the target frames of step k - 1
((k-1) r .. k r - 1, flattened as the decoder emits them) and step 0 the zero <GO> frames.

Uses the model's own layers (so the trained weights are the inference weights), with NVIDIA's
training dropouts (attention and decoder RNN outputs, 0.1 each). Written out of place here,
as autograd needs; inference keeps its in-place state update.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..components.tacotron2.model import Tacotron2


@dataclass
class TrainingOutput:
    mel: torch.Tensor  # (B, n_mel, T_out) decoder output, T_out = T_steps * r
    mel_postnet: torch.Tensor  # (B, n_mel, T_out) after the postnet residual
    gate: torch.Tensor  # (B, T_steps) stop logits, one per step
    alignments: torch.Tensor  # (B, T_steps, T_in), one row per step


def teacher_forced(
    model: Tacotron2,
    ids: torch.Tensor,
    text_lengths: torch.Tensor,
    mels: torch.Tensor,
    attention_dropout: float = 0.1,
    decoder_dropout: float = 0.1,
) -> TrainingOutput:
    """ids (B, T_in) with text_lengths (B,) sorted descending, target mels (B, n_mel, T_out)
    with T_out a multiple of r (`collate` pads them)."""
    memory = model.encoder(model.embedding(ids).transpose(1, 2), text_lengths)
    pad_mask = torch.arange(memory.shape[1], device=ids.device) >= text_lengths[:, None]
    decoder = model.decoder
    targets = decoder.frames_to_steps(mels)  # (T_steps, B, n_mel * r)
    previous = F.pad(targets, (0, 0, 0, 0, 1, -1))  # <GO> frames of zeros, then the targets
    prenet = decoder.prenet(previous)  # (T_steps, B, prenet_dim)
    processed_memory = decoder.attention_layer.memory_layer(memory)
    state = decoder.initial_state(memory)
    h_att, c_att, h_dec, c_dec, context = (
        state.attention_hidden,
        state.attention_cell,
        state.decoder_hidden,
        state.decoder_cell,
        state.context,
    )
    weights = cumulative = torch.zeros_like(pad_mask, dtype=memory.dtype)
    frames, gates, alignments = [], [], []
    for step in range(prenet.shape[0]):
        h_att, c_att = decoder.attention_rnn(torch.cat((prenet[step], context), -1), (h_att, c_att))
        h_att = F.dropout(h_att, attention_dropout, model.training)
        context, weights = decoder.attention_layer(
            h_att, memory, processed_memory, torch.stack((weights, cumulative), 1), pad_mask
        )
        cumulative = cumulative + weights
        h_dec, c_dec = decoder.decoder_rnn(torch.cat((h_att, context), -1), (h_dec, c_dec))
        h_dec = F.dropout(h_dec, decoder_dropout, model.training)
        hidden_context = torch.cat((h_dec, context), 1)
        frames.append(decoder.linear_projection(hidden_context))
        gates.append(decoder.gate_layer(hidden_context))
        alignments.append(weights)
    mel = decoder.steps_to_frames(torch.stack(frames))
    return TrainingOutput(
        mel, mel + model.postnet(mel), torch.cat(gates, 1), torch.stack(alignments, 1)
    )
