"""Audio while the acoustic model is still decoding.

`StreamingVocoder` takes one batch's mel chunks (`AcousticModel.stream_mels`) and vocodes the
frames whose context is known: frames ``[a, b)`` are made from mel ``[a - left, b + right)``
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

from .stages import MelChunk


@dataclass
class RowAudio:
    """The next piece of one batch row's audio: float32 (N,) in [-1, 1]; `final` on its last."""

    row: int
    audio: np.ndarray
    final: bool
    hit_max_steps: bool = False  # with final: the row was cut at the acoustic model's step limit
    mel_finite: bool = True  # False: the row's mel has NaN or Inf (its audio is left out)


class NoiseField:
    """A vocoder's N(0, 1) draws (``noise_shapes(batch, frames)``) over the whole utterance,
    drawn frame by frame as windows reach further; `given` fixes them (tests)."""

    def __init__(
        self, vocoder: Any, batch: int, generator: torch.Generator | None, given: Sequence[torch.Tensor] | None
    ):
        self.vocoder, self.batch, self.generator = vocoder, batch, generator
        self.draws: list[torch.Tensor] = list(given) if given is not None else []
        self.per_frame = [shape[2] for shape in vocoder.noise_shapes(batch, 1)]

    def window(self, start: int, end: int, device: torch.device) -> list[torch.Tensor]:
        """The draws for mel frames [start, end)."""
        frames = self.draws[0].size(2) // self.per_frame[0] if self.draws else 0
        if end > frames:
            more = [
                torch.randn(shape, generator=self.generator, device=device)
                for shape in self.vocoder.noise_shapes(self.batch, end - frames)
            ]
            self.draws = [torch.cat([old, new], 2) for old, new in zip(self.draws, more)] if self.draws else more
        return [z[:, :, start * n : end * n] for z, n in zip(self.draws, self.per_frame)]


class StreamingVocoder:
    """One batch's mel chunks -> each row's audio in order, as soon as its context is decoded.
    A vocoder without ``context_frames`` is run once, when the mel is complete."""

    def __init__(
        self,
        vocoder: Any,
        denoiser: Any,
        batch: int,
        generator: torch.Generator | None,
        noise: Sequence[torch.Tensor] | None = None,
    ):
        self.vocoder, self.denoiser, self.generator = vocoder, denoiser, generator
        contexts = [vocoder.context_frames] + ([denoiser.context_frames] if denoiser is not None else [])
        self.whole = any(context is None for context in contexts)
        self.left = 0 if self.whole else sum(context[0] for context in contexts)
        self.right = 0 if self.whole else sum(context[1] for context in contexts)
        self.noise = NoiseField(vocoder, batch, generator, noise) if hasattr(vocoder, "noise_shapes") else None
        self.mel: torch.Tensor | None = None
        self.emitted = 0
        self.finished = [False] * batch

    def push(self, chunk: MelChunk) -> Iterator[RowAudio]:
        """Take the next chunk; yield the audio that became ready, per row still speaking."""
        self.mel = chunk.mel if self.mel is None else torch.cat([self.mel, chunk.mel], 2)
        decoded = self.mel.size(2)
        ready = decoded if chunk.done else (0 if self.whole else decoded - self.right)
        if ready <= self.emitted and not chunk.done:
            return
        hop = self.vocoder.hop_length
        if ready > self.emitted:
            start, end = max(0, self.emitted - self.left), min(decoded, ready + self.right)
            audio = self._vocode(start, end)[:, (self.emitted - start) * hop : (ready - start) * hop]
        else:  # the last chunk brought no new frames: only the rows' ends are news
            audio = torch.zeros(len(self.finished), 0)
        finite = torch.isfinite(chunk.mel).flatten(1).all(1).tolist()
        for row, length in enumerate(chunk.lengths.tolist()):
            if self.finished[row]:
                continue
            last = ready if length < 0 else min(ready, length)
            self.finished[row] = length >= 0 and length <= ready or not finite[row]
            piece = audio[row, : max(0, last - self.emitted) * hop] if finite[row] else audio[row, :0]
            yield RowAudio(
                row, piece.numpy().astype(np.float32, copy=False), self.finished[row],
                row in chunk.hit_max_steps, finite[row],
            )
        self.emitted = ready

    def _vocode(self, start: int, end: int) -> torch.Tensor:
        mel = self.mel[:, :, start:end]
        if self.noise is not None:
            audio = self.vocoder.infer(mel, noise=self.noise.window(start, end, mel.device))
        else:
            audio = self.vocoder.infer(mel, generator=self.generator)
        audio = audio.float()
        if self.denoiser is not None:
            with torch.autocast(audio.device.type, enabled=False):  # as Pipeline.run_batch runs it
                audio = self.denoiser(audio)
        return audio.cpu()
