"""The Tacotron2 decoder's inference step with its weights packed once per model: each LSTM
cell as one matrix over cat(input, h), the location features as one GEMM, the mel projection and
stop gate as one linear, in a weight format (fp32 bit-faithful, bf16/fp16 stored weights, int8
dynamic quantization). Shapes as in layers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from ...draws import Generators
from ...precision import cpu_has_native, dtype as precision_dtype
from ...quantize import Int8Linear
from .layers import DecoderState, prenet_dropout

if TYPE_CHECKING:
    from .layers import Attention, Decoder


Linear = Callable[[torch.Tensor], torch.Tensor]
#: weight formats of the packed decoder: fp32 (bit-faithful), bf16/fp16 (stored weights), int8
WEIGHT_FORMATS = ("fp32", "bf16", "fp16", "int8")
LOW_PRECISION = ("bf16", "fp16")


def pack_linear(weight: torch.Tensor, bias: torch.Tensor | None, weight_format: str) -> Linear:
    """x (B, in) fp32 -> x W^T + b (B, out) fp32 with W (out, in) packed once in `weight_format`.

    fp32 keeps W^T contiguous, (in, out): a batch-1 x @ W^T then streams the weights row by row,
    ~1.3x faster than ``F.linear``'s transposed GEMV on the CPU (docs/performance.md) and no
    slower elsewhere. bf16/fp16 store the weights (the bytes a step reads) in half precision,
    in oneDNN's packed layout on a CPU that computes them natively (`cpu_has_native`); int8
    is dynamic quantization (ttsfw.quantize)."""
    weight, bias = weight.detach(), None if bias is None else bias.detach()
    if weight_format == "int8":
        return Int8Linear(weight, bias)
    if weight_format in LOW_PRECISION:
        dtype = precision_dtype(weight_format)
        weight, bias = weight.to(dtype), None if bias is None else bias.to(dtype)
        if weight.device.type == "cpu" and cpu_has_native(weight_format):
            # oneDNN's own weight layout for batch 1: ~1.7x faster than F.linear on bf16 (AVX-512 BF16)
            packed = torch.ops.mkldnn._reorder_linear_weight(weight, 1)
            return lambda x: torch.ops.mkldnn._linear_pointwise(
                x.to(dtype), packed, bias, "none", [], ""
            ).float()
        return lambda x: F.linear(x.to(dtype), weight, bias).float()
    weight_t = weight.t().contiguous()
    if bias is None:
        return lambda x: torch.mm(x, weight_t)
    return lambda x: torch.addmm(bias, x, weight_t)


def pack_lstm_cell(cell: nn.LSTMCell, weight_format: str) -> Linear:
    """cat(input, h) (B, in + hidden) -> the cell's four gate pre-activations (B, 4 hidden) in
    i, f, o, g order: [W_ih | W_hh] as one matrix and b_ih + b_hh as one bias, so one GEMV per
    step, and PyTorch's i, f, g, o rows reordered so the three sigmoid gates are contiguous."""
    i, f, g, o = torch.cat((cell.weight_ih, cell.weight_hh), dim=1).chunk(4)
    bias_i, bias_f, bias_g, bias_o = (cell.bias_ih + cell.bias_hh).chunk(4)
    return pack_linear(
        torch.cat((i, f, o, g)), torch.cat((bias_i, bias_f, bias_o, bias_g)), weight_format
    )


def lstm_update(gates: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gate pre-activations (B, 4 H) in i, f, o, g order (`pack_lstm_cell`; overwritten), cell
    (B, H) -> new h, cell: ``nn.LSTMCell``'s update with one sigmoid and one tanh over the gates."""
    hidden = cell.size(1)
    sigmoids = gates[:, : 3 * hidden].sigmoid_()
    i, f, o = sigmoids.chunk(3, 1)
    cell = torch.addcmul(f * cell, i, gates[:, 3 * hidden :].tanh_())
    return o * torch.tanh(cell), cell


def pack_location(attention: Attention) -> torch.Tensor:
    """The location layer's convolution (n_filters, 2, K) and dense (attention_dim, n_filters)
    as one matrix (2 K, attention_dim): the location features of a (B, T_in, 2 K) window of the
    padded weights (`location_windows`) are one GEMM (both maps are linear; folded in float64)."""
    layer = attention.location_layer
    conv = layer.location_conv.conv.weight.detach().double()
    dense = layer.location_dense.linear_layer.weight.detach().double()
    return torch.einsum("af,fck->cka", dense, conv).flatten(0, 1).to(conv.device, torch.float32)


def location_windows(padded: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Previous and cumulative weights zero-padded by (K - 1) / 2 each side (B, 2, T_in + K - 1)
    -> every position's window (B * T_in, 2 K), channel-major (`pack_location`'s rows)."""
    windows = padded.unfold(2, kernel_size, 1)  # (B, 2, T_in, K), a view
    return windows.transpose(1, 2).reshape(-1, 2 * kernel_size)


@dataclass
class StepInputs:
    """What every step of one utterance reads, prepared once (`PackedDecoder.start`)."""

    memory: torch.Tensor  # (B, T_in, E)
    processed_memory: torch.Tensor  # (B, T_in, attention_dim), doubled (see PackedDecoder)
    mask: torch.Tensor  # (B, T_in) 0 at symbols, -inf at padding: added to the energies
    #: (B, 2, T_in + K - 1) previous and cumulative weights with the location conv's zero
    #: padding; the state's weights_cat is a view into it
    padded_weights: torch.Tensor


class PackedDecoder:
    """A decoder's per-step weights packed for inference: each LSTM cell as one matrix over
    cat(input, h), the mel projection and the stop gate as one (n_mel * r + 1)-output linear."""

    def __init__(self, decoder: Decoder, weight_format: str):
        if weight_format not in WEIGHT_FORMATS:
            raise ValueError(
                f"weight_format must be one of {WEIGHT_FORMATS}, got {weight_format!r}"
            )

        # int8 leaves the prenet's two small matrices (86 k weights) in fp32: a dynamic int8
        # linear has ~10 us of fixed cost per call, more than their fp32 GEMVs take in all
        prenet_format = "fp32" if weight_format == "int8" else weight_format

        # Attention: energies v . tanh(u) are computed as (2 v) . sigmoid(2 u), which differ by
        # the constant sum(v), which the softmax cancels; torch's fp32 sigmoid is ~5x faster than
        # its tanh here. The query, memory and location maps are stored doubled (exact in
        # floating point) so that they sum to 2 u. Location features and softmax stay fp32.
        attention = decoder.attention_layer
        self.memory_layer = attention.memory_layer
        self.location = 2 * pack_location(attention)
        self.kernel_size = attention.location_layer.location_conv.conv.kernel_size[0]
        self.v = 2 * attention.v.linear_layer.weight.detach()[0]  # (attention_dim,)
        self.prenet_layers = [
            pack_linear(layer.linear_layer.weight, layer.linear_layer.bias, prenet_format)
            for layer in decoder.prenet.layers
        ]
        self.attention_gates = pack_lstm_cell(decoder.attention_rnn, weight_format)
        self.query = pack_linear(2 * attention.query_layer.linear_layer.weight, None, weight_format)
        self.decoder_gates = pack_lstm_cell(decoder.decoder_rnn, weight_format)
        projection = decoder.linear_projection.linear_layer
        gate = decoder.gate_layer.linear_layer
        self.frame_and_gate = pack_linear(
            torch.cat((projection.weight, gate.weight)),
            torch.cat((projection.bias, gate.bias)),
            weight_format,
        )

    def prenet(
        self, frames: torch.Tensor, dropout: bool, generator: Generators
    ) -> torch.Tensor:
        """Previous step's frames (B, n_mel * r) -> (B, prenet_dim), with the Prenet's dropout
        draws."""
        x = frames
        for layer in self.prenet_layers:
            x = F.relu(layer(x))
            if dropout:
                x = prenet_dropout(x, generator)
        return x

    def start(
        self, memory: torch.Tensor, pad_mask: torch.Tensor, state: DecoderState
    ) -> StepInputs:
        """Prepare one utterance's steps: memory (B, T_in, E), pad_mask (B, T_in) True at
        padding; `state` (all zero) gets its weights_cat as a view into the padded weights."""
        batch, time, _ = memory.shape
        pad = (self.kernel_size - 1) // 2
        padded = memory.new_zeros(batch, 2, time + self.kernel_size - 1)
        state.weights_cat = padded[:, :, pad : pad + time]
        mask = memory.new_zeros(batch, time).masked_fill_(pad_mask, -float("inf"))
        return StepInputs(memory, 2 * self.memory_layer(memory), mask, padded)

    def attend(
        self, query: torch.Tensor, inputs: StepInputs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Location-sensitive attention (`Attention.forward`'s values): query (B,
        attention_rnn_dim) -> context (B, E), weights (B, T_in). The location features are one
        GEMM, accumulated onto the (doubled) processed memory and query."""
        processed_memory = inputs.processed_memory
        batch, time, dim = processed_memory.shape
        doubled = processed_memory + self.query(query).unsqueeze(1)  # (B, T_in, attention_dim)
        doubled.view(batch * time, dim).addmm_(
            location_windows(inputs.padded_weights, self.kernel_size), self.location
        )
        energies = torch.matmul(doubled.sigmoid_(), self.v).add_(inputs.mask)
        weights = torch.softmax(energies, dim=1)
        context = torch.bmm(weights.unsqueeze(1), inputs.memory).squeeze(1)
        return context, weights

    def step(
        self, prenet_out: torch.Tensor, state: DecoderState, inputs: StepInputs
    ) -> torch.Tensor:
        """One decoder step; updates `state` in place -> r frames and gate logit
        (B, n_mel * r + 1)."""
        gates = self.attention_gates(
            torch.cat((prenet_out, state.context, state.attention_hidden), -1)
        )
        state.attention_hidden, state.attention_cell = lstm_update(gates, state.attention_cell)
        state.context, weights = self.attend(state.attention_hidden, inputs)
        state.weights_cat[:, 0] = weights
        state.weights_cat[:, 1] += weights
        gates = self.decoder_gates(
            torch.cat((state.attention_hidden, state.context, state.decoder_hidden), -1)
        )
        state.decoder_hidden, state.decoder_cell = lstm_update(gates, state.decoder_cell)
        return self.frame_and_gate(torch.cat((state.decoder_hidden, state.context), 1))
