"""Tacotron2 building blocks (Shen et al. 2018), laid out like NVIDIA's so checkpoints load.

Attribute names are chosen so that ``state_dict`` keys equal NVIDIA's (e.g.
``decoder.attention_layer.location_layer.location_conv.conv.weight``). Shapes: B = batch,
T_in = input symbols, T_steps = decoder steps, r = n_frames_per_step (mel frames per step),
T_out = T_steps * r mel frames, E = encoder_embedding_dim.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from ... import draws
from ...draws import Generators
from .budget import still_going

if TYPE_CHECKING:
    from .graphs import DecoderGraphs
    from .packed import PackedDecoder


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
        #: how `forward` (inference) packs the per-step weights: one of packed.WEIGHT_FORMATS
        self.weight_format = "fp32"
        self._packed: "PackedDecoder | None" = None
        self._packed_key: tuple = ()
        #: decoder steps per CUDA graph on a CUDA device (graphs.py); 0: a kernel launch per op
        self.cuda_graph_steps = 0
        self._graphs: "DecoderGraphs | None" = None

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
        return {**super().__getstate__(), "_packed": None, "_packed_key": (), "_graphs": None}

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
            from .packed import PackedDecoder  # it packs this module's layers

            self._packed, self._packed_key = PackedDecoder(self, self.weight_format), key
        return self._packed

    def uses_graphs(self, device: torch.device) -> bool:
        """Whether the steps on `device` run through CUDA graphs (`cuda_graph_steps`, graphs.py)."""
        return self.cuda_graph_steps > 0 and device.type == "cuda"

    def graphs(self) -> "DecoderGraphs":
        """The blocks of `cuda_graph_steps` steps for the packed weights (graphs.py): CUDA
        graphs on a CUDA device, the same blocks run eagerly elsewhere."""
        from .graphs import DecoderGraphs

        graphs = self._graphs
        if graphs is None or graphs.weights is not self.packed() or graphs.k != self.cuda_graph_steps:
            graphs = self._graphs = DecoderGraphs(self, self.cuda_graph_steps)
        return graphs

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
        blocks = self.step_blocks(
            memory, pad_mask, max_steps, gate_threshold, early_stopping, generator, dropout, limits
        )
        steps = 0
        for outputs, block_alignments, not_finished in blocks:
            count = outputs.size(0)
            frames_gate[steps : steps + count] = outputs
            alignments[steps : steps + count] = block_alignments
            step_lengths += not_finished.sum(0, dtype=torch.int32)
            steps += count
        return DecoderOutput(
            self.steps_to_frames(frames_gate[:steps, :, :step_dim]),
            frames_gate[:steps, :, step_dim].t(),
            alignments[:steps].transpose(0, 1),
            step_lengths * self.n_frames_per_step,
        )

    def step_blocks(
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
        """Inference a block of steps at a time (what `forward` collects; `steps` one by one):
        per block of n steps, their r frames and gate logits (n, B, n_mel * r + 1), attention
        weights (n, B, T_in) and which rows have not stopped yet, the step included (n, B)
        int32; a row stops at its limit of `limits` (B,) steps too. Blocks of
        `cuda_graph_steps` where the steps run as CUDA graphs (`uses_graphs`, graphs.py), else
        of one step. Call it with autocast off, memory float32, `dropout` resolved (as
        `forward` does)."""
        options = (memory, pad_mask, max_steps, gate_threshold, early_stopping, generator, dropout, limits)
        if self.uses_graphs(memory.device):
            yield from self.graphs().step_blocks(*options)
            return
        for output, alignment, not_finished in self._step_loop(*options):
            yield output[None], alignment[None], not_finished[None]

    def steps(self, *args: Any, **kwargs: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """`step_blocks` (same arguments) one step at a time (a stream reads them as they come):
        (B, n_mel * r + 1), (B, T_in), (B,) per step."""
        for block in self.step_blocks(*args, **kwargs):
            yield from zip(*block)

    def _step_loop(
        self, memory, pad_mask, max_steps, gate_threshold, early_stopping, generator, dropout, limits
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """`steps` eagerly, one step per iteration (the packed weights' step)."""
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
