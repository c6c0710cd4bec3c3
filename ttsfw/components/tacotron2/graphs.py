"""The decoder's steps replayed as CUDA graphs, k steps a graph.

On a GPU a Tacotron2 step is ~40 small kernels (docs/benchmark.md), and launched one by one from Python the loop
is bound by launch overhead, not by the GPU (the H100 ran training 19% busy; docs/voice.md).
With ``acoustic.cuda_graph_steps=k`` the decoder captures k steps once per batch size and
memory length (rounded up to MEMORY_BUCKET symbols; the extra columns are masked padding) into
one CUDA graph, replays it per k steps and reads the stop gates once per k steps; the steps
past the one where every row stopped are dropped, so the outputs are those of `Decoder.steps`.

The k steps run on fixed buffers (`StepBlock`): an utterance is copied in, each step's state is
copied back where the next replay reads it, and the prenet draws come from generators of the
block's own whose states are set from the caller's before a replay and handed back after it.
Off CUDA the same blocks run eagerly: that is what the tests compare with the step loop.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from ... import draws
from ...draws import Generators
from .budget import still_going

if TYPE_CHECKING:
    from .layers import Decoder
    from .packed import PackedDecoder

#: memory lengths are padded up to a multiple of this: one graph serves MEMORY_BUCKET lengths
MEMORY_BUCKET = 32
#: captured blocks kept per decoder (the least recently used goes first)
MAX_GRAPHS = 16
#: the recurrent tensors of a DecoderState that a step replaces (weights_cat it updates in place)
REPLACED = ("attention_hidden", "attention_cell", "decoder_hidden", "decoder_cell", "context")

#: steps as `Decoder.step_blocks` yields them (see `DecoderGraphs.step_blocks`)
Steps = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class StepBlock:
    """k decoder steps for one shape on fixed buffers: `load` an utterance, `run` k steps (what
    a CUDA graph captures), then read `outputs` (k, B, n_mel * r + 1), `alignments` (k, B,
    T_bucket) and `going` (k, B) int32, the rows not stopped after each step."""

    def __init__(
        self,
        decoder: Decoder,
        weights: PackedDecoder,
        batch: int,
        time: int,
        k: int,
        gate_threshold: float,
        dropout: bool,
        own_generators: int | None,
        device: torch.device,
    ):
        """`own_generators`: None without dropout (no draws), else the prenet draws from the
        block's own generators: 0 = one for all rows, n > 0 = one per row."""
        self.weights, self.k, self.gate_threshold, self.dropout = weights, k, gate_threshold, dropout
        self.step_dim = decoder.linear_projection.linear_layer.out_features
        encoder_dim = decoder.attention_layer.memory_layer.linear_layer.in_features
        memory = torch.zeros(batch, time, encoder_dim, device=device)
        self.state = decoder.initial_state(memory)
        self.inputs = weights.start(memory, torch.zeros(batch, time, dtype=torch.bool, device=device), self.state)
        self.frames = memory.new_zeros(batch, self.step_dim)
        self.not_finished = torch.ones(batch, dtype=torch.int32, device=device)
        self.limits = torch.zeros(batch, dtype=torch.int32, device=device)
        self.step = torch.zeros((), dtype=torch.int32, device=device)
        self.outputs = memory.new_empty(k, batch, self.step_dim + 1)
        self.alignments = memory.new_empty(k, batch, time)
        self.going = torch.empty(k, batch, dtype=torch.int32, device=device)
        self.generators: Generators = (
            None if own_generators is None
            else [torch.Generator(device) for _ in range(own_generators)] if own_generators
            else torch.Generator(device)
        )

    def load(self, memory: torch.Tensor, pad_mask: torch.Tensor, limits: torch.Tensor) -> None:
        """Start an utterance: memory (B, T_in, E) with T_in <= the block's length, pad_mask
        (B, T_in) True at padding, limits (B,) steps per row."""
        time = memory.size(1)
        width = self.inputs.memory.size(1)
        memory = torch.nn.functional.pad(memory, (0, 0, 0, width - time))
        pad_mask = torch.nn.functional.pad(pad_mask, (0, width - time), value=True)
        scratch = copy.copy(self.state)
        fresh = self.weights.start(memory, pad_mask, scratch)
        for name in ("memory", "processed_memory", "mask", "padded_weights"):
            getattr(self.inputs, name).copy_(getattr(fresh, name))
        for name in REPLACED:
            getattr(self.state, name).zero_()
        self.frames.zero_()
        self.not_finished.fill_(1)
        self.limits.copy_(limits)
        self.step.zero_()

    def run(self) -> None:
        """k steps from the buffers' state; leaves the state after them in the same buffers."""
        state, weights = copy.copy(self.state), self.weights
        frames, not_finished = self.frames, self.not_finished
        for i in range(self.k):
            output = weights.step(weights.prenet(frames, self.dropout, self.generators), state, self.inputs)
            frames = output[:, : self.step_dim]
            not_finished = still_going(
                not_finished, output[:, self.step_dim], self.gate_threshold, self.step, self.limits
            )
            self.step += 1
            self.outputs[i], self.alignments[i], self.going[i] = output, state.weights_cat[:, 0], not_finished
        for name in REPLACED:
            getattr(self.state, name).copy_(getattr(state, name))
        self.frames.copy_(frames)
        self.not_finished.copy_(not_finished)

    def draw_from(self, generator: Generators) -> None:
        """Give the block's generators the states of the caller's (one, or one per row)."""
        for own, theirs in _pairs(self.generators, generator):
            own.set_state(theirs.get_state())

    def hand_back(self, generator: Generators) -> None:
        """Move the caller's generators on by what the block drew."""
        for own, theirs in _pairs(self.generators, generator):
            theirs.set_state(own.get_state())


def capture(block: StepBlock) -> Callable[[], None]:
    """`block.run` captured in a CUDA graph -> the graph's replay (which runs the k steps)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        block.run()  # warm-up outside the graph: lazy cuBLAS set-up must not be captured
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    generators = block.generators
    for generator in [] if generators is None else generators if draws.per_row(generators) else [generators]:
        graph.register_generator_state(generator)
    # thread_local: a server's other threads may use CUDA while this one captures
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        block.run()
    return graph.replay


class DecoderGraphs:
    """One packed decoder's blocks by shape, at most MAX_GRAPHS; `step_blocks` decodes through
    them. On a CUDA device a block's k steps are captured as a CUDA graph; elsewhere they run
    eagerly (the same buffers and values: what the tests check)."""

    def __init__(self, decoder: Decoder, steps_per_graph: int):
        if steps_per_graph < 1:
            raise ValueError(f"cuda_graph_steps must be at least 1 to use graphs, got {steps_per_graph}")
        self.decoder, self.k = decoder, steps_per_graph
        self.weights = decoder.packed()
        #: shape key -> a block and what runs its k steps (its graph's replay, or `run`)
        self.blocks: OrderedDict[tuple, tuple[StepBlock, Callable[[], None]]] = OrderedDict()

    def step_blocks(
        self, memory: torch.Tensor, pad_mask: torch.Tensor, max_steps: int, gate_threshold: float,
        early_stopping: bool, generator: Generators, dropout: bool, limits: torch.Tensor | None,
    ) -> Iterator[Steps]:
        """`Decoder.step_blocks` (same arguments) in blocks of up to k: outputs (n, B,
        n_mel * r + 1), alignments (n, B, T_in), not finished (n, B) int32. The next block is
        queued before this one's stop gates are read, so the GPU does not wait for the caller;
        the caller's generators move on by every block run (up to 2k - 1 steps past the stop)."""
        batch, time, _ = memory.shape
        if limits is None:
            limits = torch.full((batch,), max_steps, dtype=torch.int32, device=memory.device)
        if dropout and generator is None:
            generator = default_generator(memory.device)
        block, run = self._block(batch, time, gate_threshold, dropout, generator, memory.device)
        block.load(memory, pad_mask, limits)

        def next_block() -> tuple[Steps, Callable[[], list[bool]]]:
            block.draw_from(generator)
            run()
            block.hand_back(generator)
            steps = block.outputs.clone(), block.alignments[:, :, :time].clone(), block.going.clone()
            return steps, _read_later(block.going.amax(1) == 0)

        queued = next_block()
        for start in range(0, max_steps, self.k):
            (outputs, alignments, going), stopped = queued
            if start + self.k < max_steps:
                queued = next_block()
            count = min(self.k, max_steps - start)
            ends = early_stopping and True in (flags := stopped()[:count])
            if ends:
                count = flags.index(True) + 1  # the step after which every row had stopped
            yield outputs[:count], alignments[:count], going[:count]
            if ends:
                return

    def _block(
        self, batch: int, time: int, gate_threshold: float, dropout: bool, generator: Generators,
        device: torch.device,
    ) -> tuple[StepBlock, Callable[[], None]]:
        own = None if not dropout else batch if draws.per_row(generator) else 0
        bucket = math.ceil(time / MEMORY_BUCKET) * MEMORY_BUCKET
        key = (batch, bucket, gate_threshold, dropout, own, device)
        if key in self.blocks:
            self.blocks.move_to_end(key)
            return self.blocks[key]
        block = StepBlock(self.decoder, self.weights, batch, bucket, self.k, gate_threshold, dropout, own, device)
        self.blocks[key] = block, capture(block) if device.type == "cuda" else block.run
        if len(self.blocks) > MAX_GRAPHS:
            self.blocks.popitem(last=False)
        return self.blocks[key]


def _read_later(flags: torch.Tensor) -> Callable[[], list[bool]]:
    """flags (n,) bool on the device -> what reads them on the host: on a GPU copied
    asynchronously, so reading them waits for this copy only, not for work queued after it."""
    if flags.device.type != "cuda":
        return flags.tolist
    host = torch.empty(flags.shape, dtype=torch.bool, pin_memory=True)
    host.copy_(flags, non_blocking=True)
    copied = torch.cuda.Event()
    copied.record()

    def read() -> list[bool]:
        copied.synchronize()
        return host.tolist()

    return read


def default_generator(device: torch.device) -> torch.Generator:
    """The global RNG that draws for `device` (what ``generator=None`` draws from)."""
    if device.type == "cpu":
        return torch.default_generator
    if device.type == "cuda":
        return torch.cuda.default_generators[
            device.index if device.index is not None else torch.cuda.current_device()
        ]
    raise ValueError(f"the decoder's graphs run on cuda (or eagerly on the cpu), not {device.type}")


def _pairs(own: Generators, theirs: Generators) -> list[tuple[torch.Generator, torch.Generator]]:
    """The block's generators with the caller's they stand for."""
    if own is None:
        return []
    if draws.per_row(own):
        if len(theirs) != len(own):
            raise ValueError(f"{len(theirs)} generators for a batch of {len(own)} rows")
        return list(zip(own, theirs))
    return [(own, theirs)]
