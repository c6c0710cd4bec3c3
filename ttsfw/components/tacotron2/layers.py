"""Tacotron2 building blocks (Shen et al. 2018), laid out like NVIDIA's so checkpoints load.

Attribute names are chosen so that ``state_dict`` keys equal NVIDIA's (e.g.
``decoder.attention_layer.location_layer.location_conv.conv.weight``). Shapes: B = batch,
T_in = input symbols, T_steps = decoder steps, r = n_frames_per_step (mel frames per step),
T_out = T_steps * r mel frames, E = encoder_embedding_dim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ... import draws
from ...draws import Generators
from ...precision import dtype as precision_dtype
from ...quantize import Int8Linear
from .budget import still_going


class XavierConv1d(nn.Module):
    """Conv1d with 'same' padding and Xavier-uniform init, kept at ``.conv`` (NVIDIA key layout)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        gain: str = "linear",
    ):
        super().__init__()
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=bias
        )
        nn.init.xavier_uniform_(self.conv.weight, gain=nn.init.calculate_gain(gain))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class XavierLinear(nn.Module):
    """Linear with Xavier-uniform init, kept at ``.linear_layer`` (NVIDIA key layout)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, gain: str = "linear"
    ):
        super().__init__()
        self.linear_layer = nn.Linear(in_features, out_features, bias=bias)
        nn.init.xavier_uniform_(self.linear_layer.weight, gain=nn.init.calculate_gain(gain))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, gain: str) -> nn.Sequential:
    """Conv1d followed by BatchNorm1d (keys ``N.0.conv.*`` and ``N.1.*``)."""
    return nn.Sequential(
        XavierConv1d(in_channels, out_channels, kernel_size, gain=gain),
        nn.BatchNorm1d(out_channels),
    )


class Encoder(nn.Module):
    """Convolution bank + bidirectional LSTM: embedded symbols (B, E, T_in) -> (B, T_in, E)."""

    def __init__(self, n_convolutions: int, embedding_dim: int, kernel_size: int):
        super().__init__()
        self.convolutions = nn.ModuleList(
            conv_bn(embedding_dim, embedding_dim, kernel_size, "relu")
            for _ in range(n_convolutions)
        )
        self.lstm = nn.LSTM(
            embedding_dim, embedding_dim // 2, 1, batch_first=True, bidirectional=True
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (B, E, T_in), lengths (B,) sorted descending -> (B, T_in, E), zeros at padding.

        Padded positions take part in the convolutions (as in the reference); the LSTM skips them.
        """
        for conv in self.convolutions:
            x = F.relu(conv(x))
        packed = nn.utils.rnn.pack_padded_sequence(
            x.transpose(1, 2), lengths.cpu(), batch_first=True
        )
        outputs, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
        return outputs


class Prenet(nn.Module):
    """Two ReLU layers with dropout 0.5 that stays on at inference (it is what makes the
    decoder robust; the reference never switches it off)."""

    def __init__(self, in_dim: int, dim: int, dropout: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            [XavierLinear(in_dim, dim, bias=False), XavierLinear(dim, dim, bias=False)]
        )
        self.dropout = dropout

    def forward(self, x: torch.Tensor, generator: Generators = None) -> torch.Tensor:
        """x (..., n_mel * r) -> (..., prenet_dim). Draws one keep-mask per layer."""
        for layer in self.layers:
            x = F.relu(layer(x))
            if self.dropout:
                x = prenet_dropout(x, generator)
        return x


def prenet_dropout(x: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Dropout 0.5 with one keep-mask draw; equals F.dropout(x, 0.5, training=True) on CPU, bit
    for bit, but can take a private generator, or one per row (`ttsfw.draws`)."""
    return x * draws.keep_mask(x, 0.5, generator) / 0.5


class LocationLayer(nn.Module):
    """Location features: previous + cumulative weights (B, 2, T_in) -> (B, T_in, attention_dim)."""

    def __init__(self, n_filters: int, kernel_size: int, attention_dim: int):
        super().__init__()
        self.location_conv = XavierConv1d(2, n_filters, kernel_size, bias=False)
        self.location_dense = XavierLinear(n_filters, attention_dim, bias=False, gain="tanh")

    def forward(self, weights_cat: torch.Tensor) -> torch.Tensor:
        return self.location_dense(self.location_conv(weights_cat).transpose(1, 2))


class Attention(nn.Module):
    """Location-sensitive attention (Chorowski et al. 2015)."""

    def __init__(
        self,
        query_dim: int,
        memory_dim: int,
        attention_dim: int,
        location_n_filters: int,
        location_kernel_size: int,
    ):
        super().__init__()
        self.query_layer = XavierLinear(query_dim, attention_dim, bias=False, gain="tanh")
        self.memory_layer = XavierLinear(memory_dim, attention_dim, bias=False, gain="tanh")
        self.v = XavierLinear(attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(location_n_filters, location_kernel_size, attention_dim)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        weights_cat: torch.Tensor,
        pad_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, attention_rnn_dim), memory (B, T_in, E), processed_memory
        (B, T_in, attention_dim), weights_cat (B, 2, T_in), pad_mask (B, T_in) True at padding
        -> context (B, E), weights (B, T_in)."""
        return self.attend(self.query_layer(query), memory, processed_memory, weights_cat, pad_mask)

    def attend(
        self,
        processed_query: torch.Tensor,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        weights_cat: torch.Tensor,
        pad_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """As `forward`, with the query already projected: (B, attention_dim)."""
        energies = self.v(
            torch.tanh(
                processed_query.unsqueeze(1) + self.location_layer(weights_cat) + processed_memory
            )
        )
        energies = energies.squeeze(2).masked_fill(pad_mask, -float("inf"))
        weights = F.softmax(energies, dim=1)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        return context, weights


@dataclass
class DecoderState:
    """Recurrent state carried from one decoder step to the next."""

    attention_hidden: torch.Tensor  # (B, attention_rnn_dim)
    attention_cell: torch.Tensor  # (B, attention_rnn_dim)
    decoder_hidden: torch.Tensor  # (B, decoder_rnn_dim)
    decoder_cell: torch.Tensor  # (B, decoder_rnn_dim)
    context: torch.Tensor  # (B, E)
    weights_cat: torch.Tensor  # (B, 2, T_in): previous and cumulative attention weights


@dataclass
class DecoderOutput:
    mel: torch.Tensor  # (B, n_mel, T_steps * r), before the postnet
    gate: torch.Tensor  # (B, T_steps) stop-gate logits, one per step
    alignments: torch.Tensor  # (B, T_steps, T_in), one row per step
    #: (B,) int32 frames of the steps before the gate fired (r * max_steps if it never did)
    mel_lengths: torch.Tensor


class Decoder(nn.Module):
    """Autoregressive decoder: r mel frames and one stop-gate logit per step.

    With r > 1 (NVIDIA/tacotron2's layout) the projection emits the step's r frames as one
    (n_mel * r) vector, frame-major, and the prenet reads the previous step's r frames.
    """

    def __init__(
        self,
        n_mel_channels: int,
        encoder_dim: int,
        attention_rnn_dim: int,
        decoder_rnn_dim: int,
        prenet_dim: int,
        attention_dim: int,
        location_n_filters: int,
        location_kernel_size: int,
        prenet_dropout: bool = True,
        n_frames_per_step: int = 1,
    ):
        super().__init__()
        self.n_mel_channels = n_mel_channels
        self.n_frames_per_step = n_frames_per_step
        step_dim = n_mel_channels * n_frames_per_step
        self.prenet = Prenet(step_dim, prenet_dim, dropout=prenet_dropout)
        self.attention_rnn = nn.LSTMCell(prenet_dim + encoder_dim, attention_rnn_dim)
        self.attention_layer = Attention(
            attention_rnn_dim, encoder_dim, attention_dim, location_n_filters, location_kernel_size
        )
        self.decoder_rnn = nn.LSTMCell(attention_rnn_dim + encoder_dim, decoder_rnn_dim)
        self.linear_projection = XavierLinear(decoder_rnn_dim + encoder_dim, step_dim)
        self.gate_layer = XavierLinear(decoder_rnn_dim + encoder_dim, 1, gain="sigmoid")
        #: how `forward` (inference) packs the per-step weights: one of WEIGHT_FORMATS
        self.weight_format = "fp32"
        self._packed: PackedDecoder | None = None
        self._packed_key: tuple = ()

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        """All-zero state for memory (B, T_in, E)."""
        batch, time, _ = memory.shape
        zeros = memory.new_zeros
        return DecoderState(
            zeros(batch, self.attention_rnn.hidden_size),
            zeros(batch, self.attention_rnn.hidden_size),
            zeros(batch, self.decoder_rnn.hidden_size),
            zeros(batch, self.decoder_rnn.hidden_size),
            zeros(batch, memory.size(2)),
            zeros(batch, 2, time),
        )

    def frames_to_steps(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, n_mel, T_steps * r) -> (T_steps, B, n_mel * r): each step's r frames."""
        r = self.n_frames_per_step
        if mel.size(2) % r:
            raise ValueError(
                f"{mel.size(2)} mel frames are not a multiple of n_frames_per_step={r}; "
                f"pad them (train.data.collate does)"
            )
        return mel.permute(2, 0, 1).unflatten(0, (-1, r)).transpose(1, 2).flatten(2)

    def steps_to_frames(self, steps: torch.Tensor) -> torch.Tensor:
        """(T_steps, B, n_mel * r) per-step outputs -> mel (B, n_mel, T_steps * r)."""
        return steps.unflatten(2, (-1, self.n_mel_channels)).permute(1, 3, 0, 2).flatten(2)

    def __getstate__(self) -> dict:
        """Pickles (torch.save of the module, multiprocessing) leave the packed weights behind."""
        return {**super().__getstate__(), "_packed": None, "_packed_key": ()}

    def packed(self) -> "PackedDecoder":
        """The per-step weights packed for `weight_format`; repacked when a parameter changed
        (loading, ``.to(device)``), so packing costs once per model, not per utterance.
        (Parameters created under inference mode have no version counter: only replacing
        them is noticed there.)"""
        key = (
            self.weight_format,
            *(
                (p.data_ptr(), p.device, 0 if p.is_inference() else p._version)
                for p in self.parameters()
            ),
        )
        if self._packed_key != key:
            self._packed, self._packed_key = PackedDecoder(self, self.weight_format), key
        return self._packed

    def forward(
        self,
        memory: torch.Tensor,
        pad_mask: torch.Tensor,
        max_steps: int,
        gate_threshold: float,
        early_stopping: bool = True,
        generator: Generators = None,
        prenet_dropout: bool | None = None,
        limits: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """memory (B, T_in, E), pad_mask (B, T_in) -> DecoderOutput (inference).

        Every item is decoded until all gates have fired (or for `max_steps` steps without early
        stopping); an item whose sigmoid(gate) first exceeds `gate_threshold` at step k gets
        mel_length (k - 1) * r (DLE semantics: the stop step is left out), one that never fires
        gets max_steps * r, or its own limit * r with `limits` (B,) steps (budget.py).
        `prenet_dropout` None means the Prenet's own setting. The state stays fp32 whatever the
        autocast context; only the packed weights follow `weight_format`.
        """
        dropout = self.prenet.dropout if prenet_dropout is None else prenet_dropout
        with torch.autocast(memory.device.type, enabled=False):
            return self._decode(
                memory.float(), pad_mask, max_steps, gate_threshold, early_stopping, generator,
                dropout, limits,
            )

    def _decode(
        self, memory, pad_mask, max_steps, gate_threshold, early_stopping, generator, dropout,
        limits,
    ):
        batch, time, _ = memory.shape
        step_dim = self.linear_projection.linear_layer.out_features  # n_mel * r
        frames_gate = memory.new_empty(max_steps, batch, step_dim + 1)  # r frames and gate logit
        alignments = memory.new_empty(max_steps, batch, time)
        step_lengths = torch.zeros(batch, dtype=torch.int32, device=memory.device)
        steps = self.steps(
            memory, pad_mask, max_steps, gate_threshold, early_stopping, generator, dropout, limits
        )
        for step, (output, alignment, not_finished) in enumerate(steps):
            frames_gate[step], alignments[step] = output, alignment
            step_lengths += not_finished
        steps = step + 1
        return DecoderOutput(
            self.steps_to_frames(frames_gate[:steps, :, :step_dim]),
            frames_gate[:steps, :, step_dim].t(),
            alignments[:steps].transpose(0, 1),
            step_lengths * self.n_frames_per_step,
        )

    def steps(
        self,
        memory: torch.Tensor,
        pad_mask: torch.Tensor,
        max_steps: int,
        gate_threshold: float,
        early_stopping: bool = True,
        generator: Generators = None,
        dropout: bool = True,
        limits: torch.Tensor | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Inference one step at a time (what `forward` collects; a stream reads it as it goes):
        per step, the step's r frames and gate logit (B, n_mel * r + 1), its attention weights
        (B, T_in) and which rows have not stopped yet, this step included (B,) int32; a row
        stops at its limit of `limits` (B,) steps too. Call it with autocast off, memory
        float32, `dropout` resolved (as `forward` does)."""
        weights = self.packed()
        step_dim = self.linear_projection.linear_layer.out_features
        not_finished = torch.ones(memory.size(0), dtype=torch.int32, device=memory.device)
        state = self.initial_state(memory)
        inputs = weights.start(memory, pad_mask, state)
        frames = memory.new_zeros(memory.size(0), step_dim)  # the all-zero <GO> frames
        for step in range(max_steps):
            prenet_out = weights.prenet(frames, dropout, generator)
            output = weights.step(prenet_out, state, inputs)
            frames, gate_logit = output[:, :step_dim], output[:, step_dim]
            not_finished = still_going(not_finished, gate_logit, gate_threshold, step, limits)
            yield output, state.weights_cat[:, 0], not_finished
            if early_stopping and not not_finished.any():
                return


Linear = Callable[[torch.Tensor], torch.Tensor]
#: weight formats of the packed decoder: fp32 (bit-faithful), bf16/fp16 (stored weights), int8
WEIGHT_FORMATS = ("fp32", "bf16", "fp16", "int8")
LOW_PRECISION = ("bf16", "fp16")


def pack_linear(weight: torch.Tensor, bias: torch.Tensor | None, weight_format: str) -> Linear:
    """x (B, in) fp32 -> x W^T + b (B, out) fp32 with W (out, in) packed once in `weight_format`.

    fp32 keeps W^T contiguous, (in, out): a batch-1 x @ W^T then streams the weights row by row,
    ~1.3x faster than ``F.linear``'s transposed GEMV on the CPU (docs/performance.md) and no
    slower elsewhere. bf16/fp16 store the weights (the bytes a step reads) in half precision,
    in oneDNN's packed layout on the CPU; int8 is dynamic quantization (ttsfw.quantize)."""
    weight, bias = weight.detach(), None if bias is None else bias.detach()
    if weight_format == "int8":
        return Int8Linear(weight, bias)
    if weight_format in LOW_PRECISION:
        dtype = precision_dtype(weight_format)
        weight, bias = weight.to(dtype), None if bias is None else bias.to(dtype)
        if weight.device.type == "cpu" and torch.backends.mkldnn.is_available():
            # oneDNN's own weight layout for batch 1: ~1.7x faster than F.linear on bf16 here
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


class Postnet(nn.Module):
    """Convolutions (5 in NVIDIA's model) predicting a residual: mel (B, n_mel, T_out) -> same."""

    def __init__(
        self, n_mel_channels: int, embedding_dim: int, kernel_size: int, n_convolutions: int
    ):
        super().__init__()
        channels = [n_mel_channels] + [embedding_dim] * (n_convolutions - 1) + [n_mel_channels]
        gains = ["tanh"] * (n_convolutions - 1) + ["linear"]
        self.convolutions = nn.ModuleList(
            conv_bn(c_in, c_out, kernel_size, gain)
            for c_in, c_out, gain in zip(channels[:-1], channels[1:], gains)
        )

    @property
    def context_frames(self) -> int:
        """Frames on each side an output frame depends on: (kernel - 1) / 2 per convolution."""
        return sum((conv[0].conv.kernel_size[0] - 1) // 2 for conv in self.convolutions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convolutions[:-1]:
            x = torch.tanh(conv(x))
        return self.convolutions[-1](x)
