"""Training data: NVIDIA filelists (`path.wav|text`), a mel cache, length-bucketed batches.

Mels are extracted with the inference side's `MelSpectrogram` (TacotronSTFT) once and cached
beside the filelist, quantised to 8 bits over [LOG_MEL_FLOOR, LOG_MEL_CEILING] (step 0.055
nat, far below what the model can resolve), so a 4,000-clip corpus stays in memory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import soundfile as sf
import torch

from ..audio.stft import MelSpectrogram
from ..errors import ConfigError
from ..stages import Frontend

LOG_MEL_FLOOR = math.log(1e-5)  # the value of silence (TacotronSTFT clamps at 1e-5)
LOG_MEL_CEILING = 2.5
_STEP = (LOG_MEL_CEILING - LOG_MEL_FLOOR) / 255


@dataclass
class Example:
    """One utterance: symbol ids (T_in,) and its quantised mel (n_mel, T_out) uint8."""

    ids: torch.Tensor
    mel: torch.Tensor

    @property
    def frames(self) -> int:
        return self.mel.shape[1]


@dataclass
class Batch:
    """Rows sorted by text length, descending (the encoder packs them). With r mel frames per
    decoder step (n_frames_per_step), T_out = T_steps * r."""

    ids: torch.Tensor  # (B, T_in) zero-padded
    text_lengths: torch.Tensor  # (B,)
    mels: torch.Tensor  # (B, n_mel, T_out) padded with LOG_MEL_FLOOR to a multiple of r
    mel_lengths: torch.Tensor  # (B,) real frames
    step_lengths: torch.Tensor  # (B,) decoder steps holding real frames: ceil(mel_lengths / r)
    gate_targets: torch.Tensor  # (B, T_steps): 1 from the step holding the last frame on

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) for t in vars(self).values()))


def quantise(mel: torch.Tensor) -> torch.Tensor:
    return (
        ((mel.clamp(LOG_MEL_FLOOR, LOG_MEL_CEILING) - LOG_MEL_FLOOR) / _STEP)
        .round()
        .to(torch.uint8)
    )


def dequantise(mel: torch.Tensor) -> torch.Tensor:
    return mel.float() * _STEP + LOG_MEL_FLOOR


def read_filelist(path: str | Path) -> list[tuple[Path, str]]:
    """`path.wav|text` lines -> (wav path, text); relative wav paths are taken from the filelist's folder."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"filelist not found: {path} (a text file of `path.wav|text` lines)")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        wav, sep, text = line.partition("|")
        if not sep or not text.strip():
            raise ConfigError(f"{path}:{number}: expected `path.wav|text`, got {line[:60]!r}")
        items.append((path.parent / wav, text.split("|")[-1].strip()))
    if not items:
        raise ConfigError(f"filelist {path} has no utterances")
    return items


def load_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """A mono wav -> float32 (N,) in [-1, 1]."""
    if not path.is_file():
        raise ConfigError(f"audio file not found: {path} (listed in the filelist)")
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise ConfigError(
            f"{path} is {rate} Hz but the model expects {sample_rate} Hz; resample the corpus"
        )
    return torch.from_numpy(audio.mean(axis=1)).clamp(-1.0, 1.0)


def load_examples(filelist: str | Path, frontend: Frontend, mel: MelSpectrogram) -> list[Example]:
    """Every utterance of `filelist` with ids and mel; mels come from (or go to) `<filelist>.mels.pt`."""
    items = read_filelist(filelist)
    cache_path = Path(filelist).expanduser().with_suffix(".mels.pt")
    names = [os.path.relpath(wav, cache_path.parent) for wav, _ in items]  # the corpus can move
    cache = torch.load(cache_path, weights_only=True) if cache_path.is_file() else {}
    if cache.get("wavs") != names:
        mels = [quantise(mel(load_audio(wav, mel.sample_rate)[None])[0]) for wav, _ in items]
        torch.save({"wavs": names, "mels": mels}, cache_path)
    else:
        mels = cache["mels"]
    ids, _ = zip(*(frontend.encode([text]) for _, text in items))
    return [Example(row[0], m) for row, m in zip(ids, mels)]


def collate(examples: list[Example], n_frames_per_step: int = 1) -> Batch:
    """Pad a batch for a decoder that emits `n_frames_per_step` (r) frames per step."""
    r = n_frames_per_step
    examples = sorted(examples, key=lambda e: len(e.ids), reverse=True)
    batch, n_mel = len(examples), examples[0].mel.shape[0]
    text_lengths = torch.tensor([len(e.ids) for e in examples])
    mel_lengths = torch.tensor([e.frames for e in examples])
    step_lengths = (mel_lengths + r - 1) // r
    ids = torch.zeros(batch, int(text_lengths.max()), dtype=torch.long)
    mels = torch.full((batch, n_mel, int(step_lengths.max()) * r), LOG_MEL_FLOOR)
    gate = torch.ones(batch, int(step_lengths.max()))
    for row, example in enumerate(examples):
        ids[row, : len(example.ids)] = example.ids
        mels[row, :, : example.frames] = dequantise(example.mel)
        gate[row, : step_lengths[row] - 1] = 0.0
    return Batch(ids, text_lengths, mels, mel_lengths, step_lengths, gate)


class LengthBucketBatches:
    """Batches of similar mel length, in an order fixed by (seed, epoch) so a run can resume exactly.

    Each epoch: shuffle, cut into pools of `pool` batches, sort each pool by length, cut into
    batches, shuffle the batches.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, pool: int = 32):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths, self.batch_size, self.seed, self.pool = lengths, batch_size, seed, pool

    def epoch(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), size):
            pool = sorted(order[start : start + size], key=self.lengths.__getitem__)
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def from_position(self, epoch: int, index: int) -> Iterator[tuple[int, int, list[int]]]:
        """(epoch, index in epoch, batch) forever, starting at batch `index` of `epoch`."""
        while True:
            batches = self.epoch(epoch)
            for i in range(index, len(batches)):
                yield epoch, i, batches[i]
            epoch, index = epoch + 1, 0
