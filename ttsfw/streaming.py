"""Audio while the acoustic model is still decoding.

`StreamingVocoder` takes one batch's mel chunks (`AcousticModel.stream_mels`) and vocodes the
frames whose context is known. A vocoder with a stream of its own (`Vocoder.stream`: HiFi-GAN)
is pushed each chunk and keeps its state, so nothing is made twice. Others are run on windows:
frames ``[a, b)`` are made from mel ``[a - left, b + right)``
(``left, right`` = the vocoder's ``context_frames`` plus the denoiser's) and cut back to
``[a, b)``. For a convolutional vocoder (HiFi-GAN, WaveGlow) whose context is its receptive
field this equals vocoding the whole mel (fp32 rounding aside); at the ends of the mel the
window ends where the mel does, so the vocoder's own padding applies as in one call. A vocoder
that samples noise (WaveGlow: ``noise_shapes``) reads it from one `NoiseField`, so overlapping
windows see the same noise. Griffin-Lim is iterative over the whole window: its chunks differ
from one call by a bounded amount (docs/streaming.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from . import draws
from .draws import Generators
from .stages import MelChunk, VocoderStream


@dataclass
class RowAudio:
    """The next piece of one batch row's audio: float32 (N,) in [-1, 1]; `final` on its last."""

    row: int
    audio: np.ndarray
    final: bool
    hit_max_steps: bool = False  # with final: the row was cut at the acoustic model's step limit
    mel_finite: bool = True  # False: the row's mel has NaN or Inf (its audio is left out)


class NoiseField:
    """A vocoder's N(0, 1) draws (``noise_shapes``) over each row's whole utterance, drawn frame
    by frame as windows reach further, so overlapping windows see the same noise. Rows reaching
    the same frame are drawn together (one generator draws them as one batch); with a generator
    per row, a row's draws are a solo run's whatever else is in its batch. `given` (B, ...)
    fixes them (tests)."""

    def __init__(self, vocoder: Any, batch: int, generator: Generators, given: Sequence[torch.Tensor] | None):
        self.vocoder, self.generator = vocoder, generator
        self.per_frame = [shape[2] for shape in vocoder.noise_shapes(1, 1)]
        self.rows: list[list[torch.Tensor]] = (
            [[z[b : b + 1] for z in given] for b in range(batch)] if given is not None else [[] for _ in range(batch)]
        )

    def window(self, start: int, end: int, rows: list[int], device: torch.device) -> list[torch.Tensor]:
        """The draws for mel frames [start, end) of `rows`: per noise input (len(rows), C, n)."""
        reaching: dict[int, list[int]] = {}
        for row in rows:
            if self._frames(row) < end:
                reaching.setdefault(self._frames(row), []).append(row)
        for frames, group in reaching.items():
            more = [
                draws.randn(shape, draws.pick(self.generator, group), device)
                for shape in self.vocoder.noise_shapes(len(group), end - frames)
            ]
            for k, row in enumerate(group):
                new = [z[k : k + 1] for z in more]
                self.rows[row] = [torch.cat([old, z], 2) for old, z in zip(self.rows[row], new)] or new
        return [
            torch.cat([self.rows[row][i][:, :, start * n : end * n] for row in rows])
            for i, n in enumerate(self.per_frame)
        ]

    def _frames(self, row: int) -> int:
        return self.rows[row][0].size(2) // self.per_frame[0] if self.rows[row] else 0


class StreamingVocoder:
    """One batch's mel chunks -> each row's audio in order, as soon as its context is decoded.
    A vocoder with a stream of its own (`Vocoder.stream`; no denoiser) keeps its state between
    chunks; others vocode windows with their ``context_frames``. A vocoder with neither is run
    once per row, when the row's mel is complete. A row's last chunk (``MelChunk.row``) is
    vocoded on its own, ending where its mel ends, as a batch of one would be."""

    def __init__(
        self,
        vocoder: Any,
        denoiser: Any,
        batch: int,
        generator: Generators,
        noise: Sequence[torch.Tensor] | None = None,
    ):
        self.vocoder, self.denoiser, self.generator = vocoder, denoiser, generator
        contexts = [vocoder.context_frames] + ([denoiser.context_frames] if denoiser is not None else [])
        self.whole = any(context is None for context in contexts)
        self.left = 0 if self.whole else sum(context[0] for context in contexts)
        self.right = 0 if self.whole else sum(context[1] for context in contexts)
        self.noise = NoiseField(vocoder, batch, generator, noise) if hasattr(vocoder, "noise_shapes") else None
        self.own_stream: VocoderStream | None = vocoder.stream() if denoiser is None else None
        self.own_rows = list(range(batch))  # the rows `own_stream` holds, in its order
        self.mel: torch.Tensor | None = None  # what has come, for windows
        self.emitted = 0  # audio samples given to every row still speaking
        self.finished = [False] * batch

    def push(self, chunk: MelChunk) -> Iterator[RowAudio]:
        """Take the next chunk; yield the audio that became ready, per row still speaking."""
        if chunk.row is not None:
            yield from self._finish_row(chunk)
            return
        speaking = [row for row, finished in enumerate(self.finished) if not finished]
        if not speaking:
            return
        audio = self._advance(chunk, speaking)
        if audio is None:
            return
        ready, hop = self.emitted + audio.size(1), self.vocoder.hop_length
        finite = torch.isfinite(chunk.mel).flatten(1).all(1).tolist()
        lengths = chunk.lengths.tolist()
        for k, row in enumerate(speaking):
            end = ready if lengths[row] < 0 else min(ready, lengths[row] * hop)
            self.finished[row] = 0 <= lengths[row] * hop <= ready or not finite[row]
            piece = audio[k, : max(0, end - self.emitted)] if finite[row] else audio[k, :0]
            yield RowAudio(
                row, piece.numpy().astype(np.float32, copy=False), self.finished[row],
                row in chunk.hit_max_steps, finite[row],
            )
        self.emitted = ready

    def _advance(self, chunk: MelChunk, speaking: list[int]) -> torch.Tensor | None:
        """The `speaking` rows' audio (len(speaking), n) from `emitted` to what became final;
        None if nothing did and the decoder goes on."""
        if self.own_stream is not None:
            audio = self._stream_of(speaking).push(chunk.mel[speaking])
            if chunk.done:
                audio = torch.cat([audio, self.own_stream.finish()], 1)
            return audio.float().cpu() if audio.size(1) or chunk.done else None
        self.mel = chunk.mel if self.mel is None else torch.cat([self.mel, chunk.mel], 2)
        decoded, hop = self.mel.size(2), self.vocoder.hop_length
        ready = decoded if chunk.done else (0 if self.whole else decoded - self.right)
        emitted = self.emitted // hop
        if not chunk.done and emitted and ready - emitted < self.left + self.right:
            return None  # a window's context would outweigh its new frames: wait for more
        if ready <= emitted:  # at the end with no new frames, only the rows' ends are news
            return torch.zeros(len(speaking), 0) if chunk.done else None
        start, end = max(0, emitted - self.left), min(decoded, ready + self.right)
        audio = self._vocode(self.mel[speaking], start, end, speaking)
        return audio[:, (emitted - start) * hop : (ready - start) * hop]

    def _stream_of(self, rows: list[int]) -> VocoderStream:
        """The vocoder's stream holding just `rows` (finished rows are let go)."""
        if rows != self.own_rows:
            self.own_stream = self.own_stream.select([self.own_rows.index(row) for row in rows])
            self.own_rows = rows
        return self.own_stream

    def _finish_row(self, chunk: MelChunk) -> Iterator[RowAudio]:
        """A row's last frames: its audio from where the batch's has reached to its end."""
        row, length = chunk.row, int(chunk.lengths[0])
        if self.finished[row]:
            return
        self.finished[row] = True
        finite = bool(torch.isfinite(chunk.mel).all())
        audio = np.zeros(0, np.float32)
        hop = self.vocoder.hop_length
        if finite and length * hop > self.emitted:
            if self.own_stream is not None:
                alone = self.own_stream.select([self.own_rows.index(row)])
                vocoded = torch.cat([alone.push(chunk.mel), alone.finish()], 1).float().cpu()
                audio = vocoded[0, : length * hop - self.emitted].numpy()
            else:
                mel = chunk.mel if self.mel is None else torch.cat([self.mel[row : row + 1], chunk.mel], 2)
                emitted = self.emitted // hop
                start = max(0, emitted - self.left)
                vocoded = self._vocode(mel, start, mel.size(2), [row])
                audio = vocoded[0, (emitted - start) * hop : (length - start) * hop].numpy()
        yield RowAudio(row, audio.astype(np.float32, copy=False), True, bool(chunk.hit_max_steps), finite)

    def _vocode(self, mel: torch.Tensor, start: int, end: int, rows: list[int]) -> torch.Tensor:
        """Frames [start, end) of `mel` (len(rows), n_mel, T), the batch's `rows` -> audio."""
        mel = mel[:, :, start:end]
        if self.noise is not None:
            audio = self.vocoder.infer(mel, noise=self.noise.window(start, end, rows, mel.device))
        else:
            audio = self.vocoder.infer(mel, generator=draws.pick(self.generator, rows))
        audio = audio.float()
        if self.denoiser is not None:
            with torch.autocast(audio.device.type, enabled=False):  # as Pipeline.run_batch runs it
                audio = self.denoiser(audio)
        return audio.cpu()
