"""What the engine produces: utterances, the pieces it cuts lines into, its per-piece and
per-line events, and the chunks of a stream."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Utterance:
    """One synthesised input line. `audio` is float32 (N,) in [-1, 1]."""

    index: int
    text: str
    audio: np.ndarray
    sample_rate: int
    mel: torch.Tensor | None = None  # (n_mel, T_out), CPU
    alignment: torch.Tensor | None = None  # (T_out / r, T_in): one row per decoder step, CPU
    hit_max_decoder_steps: bool = False

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass
class SynthesisResult:
    """Utterances in input order, the sample rate, per-stage seconds and the texts left out
    (0-based index -> reason; ``synthesize(..., on_error="skip")``)."""

    utterances: list[Utterance]
    sample_rate: int
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)

    @property
    def audio(self) -> list[np.ndarray]:
        return [u.audio for u in self.utterances]


@dataclass
class Piece:
    """A sentence (or clause) of an input line, encoded: ids (T_in,). A line with nothing to
    speak is one Piece of count 0 whose text is the reason."""

    line: int
    number: int
    count: int
    text: str
    ids: torch.Tensor


@dataclass
class Spoken:
    """One piece of an input line, synthesised."""

    piece: Piece
    utterance: Utterance


@dataclass
class Failed:
    """An input line that cannot be spoken, and why; its other pieces are dropped."""

    line: int
    reason: str


@dataclass
class AudioChunk:
    """The next piece of a streamed line's audio: float32 (N,) in [-1, 1]. `final` marks the
    line's last chunk; `piece` is the sentence (or clause) it belongs to."""

    line: int
    piece: int
    audio: np.ndarray
    sample_rate: int
    final: bool
