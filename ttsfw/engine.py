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
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch

from .checks import CUT_OFF, NAN_MEL, cut, nan_audio, no_frames
from .errors import InputError, TTSError
from .results import AudioChunk, Failed, Piece, Spoken, Utterance
from .seeds import batch_generator, row_generators
from .segment import halve, split_sentences
from .timing import StageTimer

if TYPE_CHECKING:
    from .pipeline import Pipeline, StageOutputs
    from .settings import JobSettings
    from .streaming import RowAudio


class Engine:
    """Speaks input lines piece by piece in bounded windows of batches: memory holds one window,
    not the whole text. `on_batch` is called with every batch's raw outputs (the benchmark
    counts DLE's padded samples from them)."""

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
        self.on_batch = on_batch
        self.seed = pipeline.cfg.seed
        #: the silence between the pieces of one line, float32 (N,)
        self.pause = np.zeros(round(options.pause * pipeline.sample_rate), np.float32)

    def speak_lines(self, lines: list[str], todo: list[int]) -> Iterator[Spoken | Failed]:
        """For the lines numbered `todo` (0-based, in order): a Spoken per piece, or one Failed
        for a line that cannot be spoken (after any of its pieces that came first)."""
        failed: set[int] = set()
        pieces = self.pieces(lines, todo)
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
                generator = batch_generator(self.pipeline.device, self.seed, pieces[rows[0]])
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

    def stream_lines(self, lines: list[str], todo: list[int]) -> Iterator[AudioChunk | Failed]:
        """The lines numbered `todo` spoken while they are decoded: each line's chunks in order
        (its sentences one after another, the pause between them), or a Failed once one of its
        pieces fails. The checks are `speak`'s; a cut at max_decoder_steps is reported, not
        retried: its audio has already gone out."""
        for line in todo:
            for piece in self.pieces(lines, [line]):
                failure = None if piece.count else piece.text
                for _, result in self.stream_batch([piece]) if piece.count else ():
                    if isinstance(result, str):
                        failure = result
                        break
                    yield result
                if failure is not None:
                    yield Failed(line, failure)
                    break

    def stream_batch(
        self,
        pieces: list[Piece],
        cancelled: set[int] | None = None,
        seeds: list[int | None] | None = None,
    ) -> Iterator[tuple[int, AudioChunk | str]]:
        """Pieces spoken as one batch while it is decoded: ``(i, chunk)``, the next chunk of
        ``pieces[i]`` (in order; the pieces interleave), or ``(i, reason)`` once if it failed.
        A piece that is not its line's first starts with the pause. Indices put in `cancelled`
        get nothing more; when every piece has ended or is cancelled the decoder stops.

        Each piece draws from its own generator, seeded from ``seeds[i]`` (default: the
        engine's seed) and its place (`seeds.piece_seed`): a seeded piece's audio is the same alone
        or in any batch. Unseeded pieces draw from fresh random generators (seeded from the global
        RNG; the global RNG itself when no piece is seeded)."""
        cancelled = set() if cancelled is None else cancelled
        pending = {i: self.pause if piece.number else self.pause[:0] for i, piece in enumerate(pieces)}
        spoken, speaking = [0] * len(pieces), set(range(len(pieces)))
        ids = torch.nn.utils.rnn.pad_sequence([piece.ids for piece in pieces], batch_first=True)
        lengths = torch.tensor([len(piece.ids) for piece in pieces])
        seeds = [self.seed if seed is None else seed for seed in seeds or [None] * len(pieces)]
        generators = row_generators(self.pipeline.device, seeds, pieces)
        stream = self.pipeline.stream_batch(ids, lengths, generators, self.timer)
        try:
            for event in stream:
                i, piece = event.row, pieces[event.row]
                if i not in speaking or i in cancelled:
                    speaking.discard(i)
                else:
                    spoken[i] += len(event.audio)
                    problem = self._stream_problem(piece, event, spoken[i])
                    if problem is not None or event.final:
                        speaking.discard(i)
                    if problem is not None:
                        yield i, problem
                        continue
                    audio = np.concatenate([pending[i], event.audio]) if len(pending[i]) else event.audio
                    pending[i] = self.pause[:0]
                    if len(audio) or event.final:
                        last = event.final and piece.number == piece.count - 1
                        yield i, AudioChunk(piece.line, piece.number, audio, self.pipeline.sample_rate, last)
                if not speaking - cancelled:
                    return
        except TTSError:
            raise
        except Exception as exc:
            for i in sorted(speaking - cancelled):
                yield i, f"synthesis failed: {type(exc).__name__}: {exc}"
        finally:
            stream.close()

    def _stream_problem(self, piece: Piece, event: "RowAudio", spoken: int) -> str | None:
        """Why a streamed piece fails at this event (the checks of `_utterance`), or None; a
        cut at max_decoder_steps is warned about."""
        if not event.mel_finite:
            return NAN_MEL
        if not np.isfinite(event.audio).all():
            return nan_audio(self.pipeline)
        if event.final and not spoken:
            return no_frames(piece)
        if event.hit_max_steps:
            warnings.warn(f"{cut(piece, self.pipeline)}; {CUT_OFF}", stacklevel=3)
        return None

    def _utterance(self, piece: Piece, batch: "StageOutputs", row: int, depth: int) -> Utterance | str:
        frames = int(batch.mel_lengths[row])
        if frames == 0:
            return no_frames(piece)
        mel = batch.mel[row, :, :frames]
        if not torch.isfinite(mel).all():
            return NAN_MEL
        audio = batch.audio[row, : frames * self.pipeline.vocoder.hop_length].numpy()
        if not np.isfinite(audio).all():
            return nan_audio(self.pipeline)
        utterance = Utterance(
            piece.line,
            piece.text,
            audio.astype(np.float32, copy=False),
            self.pipeline.sample_rate,
            mel=mel,
            alignment=batch.alignment(row, frames, len(piece.ids)),
            hit_max_decoder_steps=bool(batch.hit_max_steps[row]),
        )
        return (
            self._handle_max_steps(piece, utterance, depth)
            if utterance.hit_max_decoder_steps
            else utterance
        )

    def _handle_max_steps(self, piece: Piece, utterance: Utterance, depth: int) -> Utterance | str:
        """A piece cut at max_decoder_steps: retry it in halves, warn, or stop (on_max_steps)."""
        policy = self.options.on_max_steps
        if policy == "error":
            raise InputError(
                f"{cut(piece, self.pipeline)}: its speech would be cut off; "
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
        warnings.warn(f"{cut(piece, self.pipeline)}; {CUT_OFF}", stacklevel=2)
        return utterance

    def pieces(self, lines: list[str], todo: list[int]) -> Iterator[Piece]:
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
