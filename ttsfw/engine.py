"""The synthesis engine: input lines -> sentences and clauses -> batches by length -> the
pipeline's stages -> checks, one :class:`Utterance` per piece, in input order.

A piece cut at ``acoustic.max_decoder_steps`` is retried in halves (``on_max_steps``); a piece
that fails (no frames, NaN or Inf, an exception) fails its line, which is reported with the
reason and not raised, so that one bad line never stops the others. The CLI job, the Python
API (``Pipeline.synthesize``) and the benchmark all speak through it.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch

from .errors import InputError, TTSError
from .segment import halve, split_sentences
from .timing import StageTimer

if TYPE_CHECKING:
    from .pipeline import Pipeline, StageOutputs
    from .settings import JobSettings


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


class Engine:
    """Speaks input lines piece by piece in bounded windows of batches: memory holds one window,
    not the whole text."""

    WINDOW_BATCHES = 8

    def __init__(
        self,
        pipeline: "Pipeline",
        options: "JobSettings",
        timer: StageTimer,
        on_batch: Callable[["StageOutputs"], None] | None = None,
    ):
        self.pipeline = pipeline
        self.options = options
        self.timer = timer
        #: called with every batch's raw outputs (the benchmark counts DLE's padded samples)
        self.on_batch = on_batch
        self.seed = pipeline.cfg.seed
        #: the silence between the pieces of one line, float32 (N,)
        self.pause = np.zeros(round(options.pause * pipeline.sample_rate), np.float32)

    def speak_lines(self, lines: list[str], todo: list[int]) -> Iterator[Spoken | Failed]:
        """For the lines numbered `todo` (0-based, in order): a Spoken per piece, or one Failed
        for a line that cannot be spoken (after any of its pieces that came first)."""
        failed: set[int] = set()
        pieces = self._pieces(lines, todo)
        while window := list(itertools.islice(pieces, self.options.batch_size * self.WINDOW_BATCHES)):
            results = iter(self.speak([p for p in window if p.count]))
            for piece in window:
                result = next(results) if piece.count else piece.text
                if piece.line in failed:
                    continue
                if isinstance(result, str):
                    failed.add(piece.line)
                    yield Failed(piece.line, result)
                else:
                    yield Spoken(piece, result)

    def whole_lines(self, lines: list[str], todo: list[int]) -> Iterator[Utterance | Failed]:
        """One Utterance per line (its pieces joined with the pause; mel and alignment kept for
        a line of one piece), or a Failed, in input order. Holds one line's audio in memory."""
        parts: list[Utterance] = []
        for event in self.speak_lines(lines, todo):
            if isinstance(event, Failed):
                parts = []
                yield event
                continue
            parts.append(event.utterance)
            if event.piece.number == event.piece.count - 1:
                yield self._join(event.piece.line, lines[event.piece.line], parts)
                parts = []

    def _join(self, index: int, text: str, parts: list[Utterance]) -> Utterance:
        if len(parts) == 1:
            return replace(parts[0], index=index, text=text)
        audio = np.concatenate([chunk for part in parts for chunk in (self.pause, part.audio)][1:])
        hit = any(part.hit_max_decoder_steps for part in parts)
        return Utterance(index, text, audio, parts[0].sample_rate, hit_max_decoder_steps=hit)

    def speak(self, pieces: list[Piece], depth: int = 0) -> list[Utterance | str]:
        """Synthesise pieces in batches (longest first); each result is an Utterance, or the
        reason it failed. A batch that raises is retried item by item."""
        results: list[Utterance | str] = [""] * len(pieces)
        order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i].ids))
        size = self.options.batch_size
        for rows in (order[start : start + size] for start in range(0, len(order), size)):
            ids = torch.nn.utils.rnn.pad_sequence([pieces[i].ids for i in rows], batch_first=True)
            lengths = torch.tensor([len(pieces[i].ids) for i in rows])
            try:
                generator = self._generator(pieces[rows[0]])
                batch = self.pipeline.run_batch(ids, lengths, generator, self.timer)
            except TTSError:
                raise
            except Exception as exc:
                if len(rows) > 1:
                    for i in rows:
                        results[i] = self.speak([pieces[i]], depth)[0]
                else:
                    results[rows[0]] = f"synthesis failed: {type(exc).__name__}: {exc}"
                continue
            if self.on_batch is not None:
                self.on_batch(batch)
            for row, i in enumerate(rows):
                results[i] = self._utterance(pieces[i], batch, row, depth)
        return results

    def _generator(self, first: Piece) -> torch.Generator | None:
        """A batch's generator, seeded from the config's seed and its first row's line and
        piece number (None when unseeded: the global RNG)."""
        if self.seed is None:
            return None
        return self.pipeline.device.generator(piece_seed(self.seed, first.line, first.number))

    def _utterance(self, piece: Piece, batch: "StageOutputs", row: int, depth: int) -> Utterance | str:
        frames = int(batch.mel_lengths[row])
        if frames == 0:
            return (
                f"the acoustic model made no frames for {_preview(piece.text)} (it stopped at once)"
            )
        mel = batch.mel[row, :, :frames]
        if not torch.isfinite(mel).all():
            return "the acoustic model produced NaN or Inf in the mel"
        audio = batch.audio[row, : frames * self.pipeline.vocoder.hop_length].numpy()
        if not np.isfinite(audio).all():
            stage = "vocoder" if self.pipeline.denoiser is None else "vocoder or denoiser"
            return f"the {stage} produced NaN or Inf in the audio"
        utterance = Utterance(
            piece.line,
            piece.text,
            audio.astype(np.float32, copy=False),
            self.pipeline.sample_rate,
            mel=mel,
            alignment=alignment(batch, row, frames, len(piece.ids)),
            hit_max_decoder_steps=bool(batch.hit_max_steps[row]),
        )
        return (
            self._handle_max_steps(piece, utterance, depth)
            if utterance.hit_max_decoder_steps
            else utterance
        )

    def _handle_max_steps(self, piece: Piece, utterance: Utterance, depth: int) -> Utterance | str:
        """A piece cut at max_decoder_steps: retry it in halves, warn, or stop (on_max_steps)."""
        limit = self.pipeline.cfg.acoustic.get("max_decoder_steps")
        where = f"line {piece.line + 1}, sentence {piece.number + 1} ({_preview(piece.text)})"
        policy = self.options.on_max_steps
        if policy == "error":
            raise InputError(
                f"{where} reached acoustic.max_decoder_steps={limit}: its speech would be cut off; "
                "shorten it, raise acoustic.max_decoder_steps, or set on_max_steps=retry_split"
            )
        halves = (
            halve(piece.text)
            if policy == "retry_split" and depth < MAX_SPLIT_DEPTH
            else [piece.text]
        )
        if len(halves) == 2:
            parts = [
                Piece(
                    piece.line,
                    piece.number,
                    piece.count,
                    text,
                    self.pipeline.encode_each([text])[0],
                )
                for text in halves
            ]
            spoken = self.speak(parts, depth + 1)
            if all(isinstance(part, Utterance) for part in spoken):
                joined = np.concatenate([spoken[0].audio, self.pause, spoken[1].audio])
                return replace(
                    utterance,
                    audio=joined,
                    mel=None,
                    alignment=None,
                    hit_max_decoder_steps=any(p.hit_max_decoder_steps for p in spoken),
                )
        warnings.warn(
            f"{where} reached acoustic.max_decoder_steps={limit}; its speech is cut off there "
            "(raise acoustic.max_decoder_steps, or shorten the sentence)",
            stacklevel=2,
        )
        return utterance

    def _pieces(self, lines: list[str], todo: list[int]) -> Iterator[Piece]:
        """Every line's pieces, encoded, in input order; a line with nothing speakable is
        yielded as a Piece of count 0 whose text is the reason."""
        for line in todo:
            texts = (
                split_sentences(lines[line], self.options.max_chars)
                if self.options.split
                else [lines[line].strip()]
            )
            encoded, problem = [], "nothing to speak"
            for text in texts:
                try:
                    with self.timer.stage("frontend"):
                        encoded.append((text, self.pipeline.encode_each([text])[0]))
                except InputError as exc:
                    problem = str(exc)
            if not encoded:
                yield Piece(line, 0, 0, problem, torch.zeros(0, dtype=torch.long))
            for number, (text, ids) in enumerate(encoded):
                yield Piece(line, number, len(encoded), text, ids)


MAX_SPLIT_DEPTH = 3


def piece_seed(seed: int, line: int, number: int) -> int:
    """The seed of a batch whose first row is piece `number` of input line `line` (0-based):
    `seed` itself for the first piece of the first line. Each batch gets a fresh generator, so
    with batch_size=1 a piece's audio depends only on the config, its text and where it is in
    the input, not on which process, shard or batch ran before it."""
    return (seed + (line << 16) + number) % 2**64


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def alignment(batch: "StageOutputs", row: int, frames: int, in_length: int) -> torch.Tensor:
    """The attention of one batch row, cut to its length: (ceil(frames / r), in_length), one row
    per decoder step (an acoustic model emitting r frames per step has T_out / r rows)."""
    alignments, mel = batch.alignments, batch.mel
    steps = -(-frames * alignments.size(1) // mel.size(2))
    return alignments[row, :steps, :in_length]
