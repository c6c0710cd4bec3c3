"""A Tacotron2 as three ONNX graphs: ``encoder.onnx``, ``decoder_step.onnx`` and ``postnet.onnx``.

The autoregressive loop stays outside the graphs (the runtime drives it, as TensorRT and
MagicMind deployments of Tacotron2 do): ``decoder_step.onnx`` is one decoder step with the
whole recurrent state as explicit inputs and outputs. Prenet dropout is an explicit input:
one scale per prenet layer, ``keep / 0.5`` (0 or 2) with dropout on, all ones with it off, so
the caller's random draws (or none) decide it and the graph itself is deterministic.
``postnet.onnx`` gives the postnet's residual (mel_postnet = mel + residual), so that a stream
can run it on windows of decoded frames as the torch model does.

Shapes: B = batch, T_in = input symbols (rows sorted by length, longest first, T_in = the
longest), E = encoder_embedding_dim, A = attention_dim, R = n_mel * r (one step's frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..tacotron2.model import Tacotron2
from .graph import export_graph

#: the recurrent state of one decoder step: inputs of decoder_step.onnx and, same names, outputs
STATE = (
    "attention_hidden",  # (B, attention_rnn_dim)
    "attention_cell",  # (B, attention_rnn_dim)
    "decoder_hidden",  # (B, decoder_rnn_dim)
    "decoder_cell",  # (B, decoder_rnn_dim)
    "attention_weights",  # (B, T_in) the previous step's attention
    "attention_weights_cum",  # (B, T_in) their running sum
    "attention_context",  # (B, E)
)
#: one input per prenet layer: the dropout scale (B, prenet_dim)
PRENET_MASKS = ("prenet_mask_0", "prenet_mask_1")
STEP_INPUTS = ("decoder_input", *PRENET_MASKS, *STATE, "memory", "processed_memory", "pad_mask")
STEP_OUTPUTS = ("decoder_output", "gate", *(f"{name}_out" for name in STATE))
#: the step's values with a time_in axis (dim 1); every value has the batch axis (dim 0)
TIME_IN = ("attention_weights", "attention_weights_cum", "memory", "processed_memory", "pad_mask")


class EncoderGraph(nn.Module):
    """ids (B, T_in) int64, lengths (B,) int64 -> memory (B, T_in, E), zero at padding, and
    processed_memory (B, T_in, A), the attention's projection of it (computed once)."""

    def __init__(self, model: Tacotron2):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        memory = self.model.encoder(self.model.embedding(ids).transpose(1, 2), lengths)
        return memory, self.model.decoder.attention_layer.memory_layer(memory)


class DecoderStepGraph(nn.Module):
    """One decoder step (prenet, attention RNN, location-sensitive attention, decoder RNN,
    projection and stop gate) as the reference's ``decode``, the state in, the next state out:
    see STEP_INPUTS/STEP_OUTPUTS.

    decoder_input (B, R) the previous step's frames (zeros first), the prenet masks, STATE,
    memory (B, T_in, E), processed_memory (B, T_in, A), pad_mask (B, T_in) bool, True at
    padding -> decoder_output (B, R), gate (B, 1) stop logit, the next STATE."""

    def __init__(self, model: Tacotron2):
        super().__init__()
        self.decoder = model.decoder

    def forward(
        self, decoder_input, prenet_mask_0, prenet_mask_1, attention_hidden, attention_cell,
        decoder_hidden, decoder_cell, attention_weights, attention_weights_cum, attention_context,
        memory, processed_memory, pad_mask,
    ):
        d = self.decoder
        x = decoder_input
        for layer, mask in zip(d.prenet.layers, (prenet_mask_0, prenet_mask_1)):
            x = F.relu(layer(x)) * mask  # keep / 0.5: the prenet's dropout, bit for bit
        attention_hidden, attention_cell = d.attention_rnn(
            torch.cat((x, attention_context), 1), (attention_hidden, attention_cell)
        )
        weights_cat = torch.stack((attention_weights, attention_weights_cum), 1)
        attention_context, weights = d.attention_layer(
            attention_hidden, memory, processed_memory, weights_cat, pad_mask
        )
        decoder_hidden, decoder_cell = d.decoder_rnn(
            torch.cat((attention_hidden, attention_context), 1), (decoder_hidden, decoder_cell)
        )
        out = torch.cat((decoder_hidden, attention_context), 1)
        return (
            d.linear_projection(out), d.gate_layer(out),
            attention_hidden, attention_cell, decoder_hidden, decoder_cell,
            weights, attention_weights_cum + weights, attention_context,
        )


def step_example(model: Tacotron2, batch: int = 2, time: int = 7) -> dict[str, torch.Tensor]:
    """Example inputs of decoder_step.onnx (and the zero state a decoding starts from)."""
    c = model.config
    memory = torch.zeros(batch, time, c.encoder_embedding_dim)
    state = model.decoder.initial_state(memory)
    return {
        "decoder_input": torch.zeros(batch, c.n_mel_channels * c.n_frames_per_step),
        **{name: torch.ones(batch, c.prenet_dim) for name in PRENET_MASKS},
        "attention_hidden": state.attention_hidden,
        "attention_cell": state.attention_cell,
        "decoder_hidden": state.decoder_hidden,
        "decoder_cell": state.decoder_cell,
        "attention_weights": state.weights_cat[:, 0],
        "attention_weights_cum": state.weights_cat[:, 1],
        "attention_context": state.context,
        "memory": memory,
        "processed_memory": torch.zeros(batch, time, c.attention_dim),
        "pad_mask": torch.zeros(batch, time, dtype=torch.bool),
    }


def export_tacotron2(model: Tacotron2, directory: Path, opset: int) -> dict[str, Any]:
    """Write the three graphs of `model` (fp32), and its learned postfilter's if it has one, into
    `directory`; return their manifest entries (file, inputs and outputs with shapes and dynamic
    axes) and the model's decoding facts."""
    model = model.float().eval()
    c = model.config
    batch, time, frames = {0: "batch"}, {0: "batch", 1: "time_in"}, {0: "batch", 2: "time_out"}
    ids = torch.ones(2, 7, dtype=torch.long)
    step = step_example(model)
    step_axes = {
        name: time if name.removesuffix("_out") in TIME_IN else batch
        for name in STEP_INPUTS + STEP_OUTPUTS
    }
    graphs = {
        "encoder": export_graph(
            EncoderGraph(model), (ids, torch.tensor([7, 5])), directory / "encoder.onnx", opset,
            {"ids": time, "lengths": batch, "memory": time, "processed_memory": time},
            outputs=("memory", "processed_memory"),
        ),
        "decoder_step": export_graph(
            DecoderStepGraph(model), tuple(step.values()), directory / "decoder_step.onnx",
            opset, step_axes, outputs=STEP_OUTPUTS, inputs=STEP_INPUTS,
        ),
        "postnet": export_graph(  # the residual: mel_postnet = mel + residual
            model.postnet, (torch.zeros(2, c.n_mel_channels, 9),), directory / "postnet.onnx",
            opset, {"mel": frames, "residual": frames}, outputs=("residual",), inputs=("mel",),
        ),
    }
    if model.postfilter is not None:  # the learned postfilter: mel -> refined mel
        graphs["postfilter"] = export_graph(
            model.postfilter, (torch.zeros(2, c.n_mel_channels, 9),), directory / "postfilter.onnx",
            opset, {"mel": frames, "refined": frames}, outputs=("refined",), inputs=("mel",),
        )
    return {
        "name": "tacotron2",
        "runs_in": "onnxruntime",
        "graphs": graphs,
        "n_mel_channels": c.n_mel_channels,
        "n_frames_per_step": c.n_frames_per_step,
        "prenet_dim": c.prenet_dim,
        "postnet_context_frames": model.postnet.context_frames,
        "n_symbols": c.n_symbols,
        "sample_rate": model.sample_rate,
        "hop_length": model.hop_length,
        "max_decoder_steps": c.max_decoder_steps,
        "gate_threshold": c.gate_threshold,
        "early_stopping": c.early_stopping,
        "max_frames_per_symbol": c.max_frames_per_symbol,
        "frame_budget_base": c.frame_budget_base,
        "fine_structure_gain": c.fine_structure_gain,
        "prenet_dropout": {
            "enabled": c.prenet_dropout,
            "inputs": list(PRENET_MASKS),
            "meaning": "per prenet layer, keep / 0.5 (0 or 2, keep ~ Bernoulli(0.5)) with "
            "dropout on, ones with it off",
        },
        "architecture": c.architecture(),
    }
