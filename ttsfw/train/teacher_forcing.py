"""The training-time forward of Tacotron2: the decoder is fed the target frames.

Uses the model's own layers (so the trained weights are the inference weights), with NVIDIA's
training dropouts (attention and decoder RNN outputs, 0.1 each). Written out of place here,
as autograd needs; inference keeps its in-place state update.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..models.tacotron2 import Tacotron2


@dataclass
class TrainingOutput:
    mel: torch.Tensor  # (B, n_mel, T_out) decoder output
    mel_postnet: torch.Tensor  # (B, n_mel, T_out) after the postnet residual
    gate: torch.Tensor  # (B, T_out) stop logits
    alignments: torch.Tensor  # (B, T_out, T_in)


def teacher_forced(
    model: Tacotron2,
    ids: torch.Tensor,
    text_lengths: torch.Tensor,
    mels: torch.Tensor,
    attention_dropout: float = 0.1,
    decoder_dropout: float = 0.1,
) -> TrainingOutput:
    """ids (B, T_in) with text_lengths (B,) sorted descending, target mels (B, n_mel, T_out)."""
    memory = model.encoder(model.embedding(ids).transpose(1, 2), text_lengths)
    pad_mask = torch.arange(memory.shape[1], device=ids.device) >= text_lengths[:, None]
    decoder = model.decoder
    previous_frames = F.pad(mels, (1, -1)).permute(2, 0, 1)  # <GO> frame of zeros, then targets
    prenet = decoder.prenet(previous_frames)  # (T_out, B, prenet_dim)
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
    mel = torch.stack(frames, 2)
    return TrainingOutput(
        mel, mel + model.postnet(mel), torch.cat(gates, 1), torch.stack(alignments, 1)
    )
