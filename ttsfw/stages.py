"""Stage interfaces: the contracts every component (built-in or plugin) fulfils.

Shapes are part of the contract. B = batch, T_in = input symbols, T_out = mel frames,
N = audio samples. Every stage returns items in the caller's order, even when it sorts
internally. Mels are natural-log magnitudes; audio is float in [-1, 1]. The classes are
abstract: a component implements the abstract method and sets the audio attributes
(``sample_rate``, ``hop_length``, ``n_mel_channels``) itself; there are no silent defaults.

Precision: a factory receives ``context.precision`` (``ttsfw.precision.Precision``: ``name``,
``dtype``, ``quantize``) once, at build. A component stores its weights in ``dtype`` where that
is safe, keeps numerically delicate parts in float32, uses ``quantize`` where it has a
quantized form, and says what it ended up computing in through ``formats()``. The pipeline runs
each stage under the device's autocast for ``dtype`` for the ops a component leaves to it.
Plugins import them from ``ttsfw`` (``from ttsfw import Vocoder``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from torch import nn


class Frontend(ABC):
    """Text -> symbol ids."""

    #: the symbol table (index = id)
    symbols: Sequence[str] = ()

    @abstractmethod
    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `ids` LongTensor (B, T_in), zero-padded, and `lengths` LongTensor (B,)."""

    def unspeakable(self, text: str) -> list[str]:
        """Characters of `text` that this frontend cannot speak (default: none known)."""
        return []


class MaxDecoderStepsWarning(UserWarning):
    """Items reached max_decoder_steps (decoder steps of `frames_per_step` frames each), or
    their frame budget of `max_frames_per_symbol` frames per input symbol, without the stop
    gate firing (``items``: caller indices). An acoustic model warns with it for direct
    callers; the pipeline silences it and reports the cuts that remain after its own handling
    (retry by halves), naming the line."""

    def __init__(
        self,
        items: list[int],
        max_steps: int,
        frames_per_step: int = 1,
        max_frames_per_symbol: float | None = None,
    ):
        self.items = items
        self.max_steps = max_steps
        budget = (
            ""
            if max_frames_per_symbol is None
            else f" or their frame budget (max_frames_per_symbol={max_frames_per_symbol} frames per input symbol)"
        )
        super().__init__(
            f"the acoustic model reached max_decoder_steps={max_steps}{budget} without the stop gate "
            f"firing for batch item(s) {items}: their speech is cut at {max_steps * frames_per_step} "
            f"frames{' or their budget' if budget else ''} (raise acoustic.max_decoder_steps for long "
            f"sentences; a text without final punctuation may never stop)"
        )


def weight_formats(module: nn.Module) -> dict[str, str]:
    """The dtypes a module's weights are stored in, e.g. ``{"weights": "bfloat16"}``: what a
    stage reports as its ``formats()`` unless it knows more (the benchmark shows it)."""
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in module.parameters()})
    return {"weights": ", ".join(dtypes)} if dtypes else {}


@dataclass
class MelBatch:
    """An acoustic model's output for one batch, rows in the caller's order."""

    mel: torch.Tensor  # (B, n_mel, T_out) natural-log magnitudes
    lengths: torch.Tensor  # (B,) valid frames per row
    alignments: torch.Tensor  # (B, ceil(T_out / r), T_in) attention, one row per decoder step
    hit_max_steps: list[int] = field(default_factory=list)  # rows cut at a step limit


@dataclass
class MelChunk:
    """Frames ``[start, start + n)`` of every row of a batch being decoded (`stream_mels`),
    rows in the caller's order. A row's frames at or past its length are not its speech.

    A chunk with `row` set holds that row alone: its last frames, finished as if it had been
    decoded on its own (the batch goes on without it; its later frames in batch chunks are not
    its speech). `lengths` is then (1,), and `hit_max_steps` [0] if it was cut."""

    mel: torch.Tensor  # (B, n_mel, n) natural-log magnitudes, final values; (1, n_mel, n) for a row
    start: int
    #: (B,) int: each row's length once it has stopped (its frames are all known), else -1
    lengths: torch.Tensor
    done: bool  # the decoder has stopped: this is the last chunk and every length is known
    hit_max_steps: list[int] = field(default_factory=list)  # with done: rows cut at a step limit
    row: int | None = None


class AcousticModel(nn.Module, ABC):
    """Symbol ids -> mel spectrogram. Sets ``n_mel_channels`` (and ``sample_rate`` and
    ``hop_length`` where its mels are tied to them): the pipeline checks them against the
    vocoder's before any audio is made."""

    n_mel_channels: int

    def mels(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> MelBatch:
        """What the pipeline calls: `infer`'s outputs, typed, with the rows cut at a step limit.
        The default is for a model without one; a model with a step limit overrides it."""
        mel, mel_lengths, alignments = self.infer(ids, lengths, generator=generator)
        return MelBatch(mel, mel_lengths, alignments)

    def stream_mels(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: torch.Generator | None = None,
        lookahead: int = 0,
    ) -> Iterator[MelChunk]:
        """`mels` as it is being made: final frames as soon as they are known, the same values
        (and random draws) as `mels`. `lookahead`: the frames the consumer needs beyond those
        it can finish (a streaming vocoder's right context), which the first chunk carries on
        top of its own so that it already makes audio. The default is one chunk at the end; an
        autoregressive model overrides it. Closing the iterator stops the model."""
        batch = self.mels(ids, lengths, generator)
        yield MelChunk(batch.mel, 0, batch.lengths, True, batch.hit_max_steps)

    def formats(self) -> dict[str, str]:
        """What this model computes in, by part (``context.precision`` decided it at build)."""
        return weight_formats(self)

    @abstractmethod
    def infer(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> mel (B, n_mel, T_out), mel_lengths (B,),
        alignments (B, T_out / r, T_in), one row per decoder step of r frames (r = 1 for most
        models). `generator` drives any sampling (None: global RNG)."""


class VocoderStream(ABC):
    """A vocoder run on a growing mel with its state kept between pushes (`Vocoder.stream`):
    each push's audio is final, and the pushes plus `finish` equal one `infer` on the whole
    mel (fp32 rounding aside). A vocoder with one recomputes no context, unlike the windows
    of `context_frames`."""

    @abstractmethod
    def push(self, mel: torch.Tensor) -> torch.Tensor:
        """The next frames, mel (B, n_mel, n) -> the audio (B, m) that became final: every
        sample whose receptive field is now pushed (so the first push gives less than
        n * hop_length, by the vocoder's lookahead)."""

    @abstractmethod
    def finish(self) -> torch.Tensor:
        """The mel ended after the last push -> the rest of the audio (B, m), ended with the
        vocoder's own padding."""

    @abstractmethod
    def select(self, rows: list[int]) -> "VocoderStream":
        """A stream of only these rows, in this order, at the same point (this one is not changed)."""


class Vocoder(nn.Module, ABC):
    """Mel spectrogram -> waveform. Sets ``n_mel_channels``, ``sample_rate`` (Hz) and
    ``hop_length`` (audio samples per mel frame)."""

    n_mel_channels: int
    sample_rate: int
    hop_length: int
    #: (left, right) mel frames an output frame depends on: a stream vocodes frames [a, b)
    #: from mel [a - left, b + right) and keeps [a, b). None: not known, a stream vocodes each
    #: sentence whole. An exact vocoder gives its receptive field; an iterative one (Griffin-Lim)
    #: the context that keeps its seams inaudible.
    context_frames: tuple[int, int] | None = None

    def formats(self) -> dict[str, str]:
        """What this vocoder computes in, by part (``context.precision`` decided it at build)."""
        return weight_formats(self)

    def stream(self) -> VocoderStream | None:
        """A stream that keeps its state between mel chunks, or None: streams vocode windows
        with `context_frames` (deterministic vocoders only: no generator is passed)."""
        return None

    @abstractmethod
    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel (B, n_mel, T_out) -> audio (B, T_out * hop_length), float in [-1, 1].
        `generator` drives any sampling (None: global RNG)."""


class Denoiser(nn.Module, ABC):
    """Waveform -> waveform, built from a vocoder."""

    #: (left, right) mel frames of audio an output sample depends on (as `Vocoder`'s)
    context_frames: tuple[int, int] | None = None

    @abstractmethod
    def forward(self, audio: torch.Tensor, strength: float | None = None) -> torch.Tensor:
        """audio (B, N) -> audio (B, N); `strength` None = the one it was built with."""
