"""What listens to the audio for scripts/wer.py: the recogniser and the quality scorers, each
reading mono 16 kHz audio peak-normalised to 0.9 (`load_16k`).

- `Recogniser`: pocketsphinx's bundled US English model (the teacher extra);
- `DistillMOS`, `DNSMOS`: MOS predictors whose weights ship in their wheels (the eval extra);
- `VoicedFraction`: librosa's pyin pitch tracker (the eval extra).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import soundfile as sf


def load_16k(path: Path) -> np.ndarray:
    """A wav -> mono float32 (N,) at 16 kHz, peak-normalised to 0.9 (what every scorer reads)."""
    from scipy.signal import resample_poly

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    audio = resample_poly(audio, 16000, rate) * (0.9 / max(float(np.abs(audio).max()), 1e-6))
    return np.clip(audio, -1, 1).astype(np.float32)


class Recogniser:
    """pocketsphinx with its bundled US English acoustic model, dictionary and language model."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, path: Path) -> str:
        audio = load_16k(path)
        self.decoder.start_utt()
        self.decoder.process_raw(
            (audio * 32767).astype(np.int16).tobytes(), full_utt=True
        )
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


class DistillMOS:
    """DistillMOS (`distillmos==0.9.1`, weights in its wheel): audio (N,) at 16 kHz -> MOS 1-5.

    ``distillmos.sqa`` imports torchaudio at its top, for its file-reading command line only
    (``torchaudio.load``, ``Resample``); torchaudio has no build for this project's torch, so
    while it is imported a stand-in ``torchaudio`` module that fails on use is in sys.modules
    (and removed after). Audio is passed as arrays, never as files."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        stand_in = types.ModuleType("torchaudio")
        stand_in.__getattr__ = _no_torchaudio  # type: ignore[method-assign]
        saved = sys.modules.get("torchaudio")
        sys.modules["torchaudio"] = stand_in
        try:
            from distillmos.sqa import ConvTransformerSQAModel
        finally:
            if saved is None:
                del sys.modules["torchaudio"]
            else:
                sys.modules["torchaudio"] = saved
        self.model = ConvTransformerSQAModel().eval()

    def __call__(self, audio: np.ndarray) -> float:
        with self.torch.inference_mode():
            return float(self.model(self.torch.from_numpy(audio)[None]).item())


def _no_torchaudio(name: str):
    raise ImportError(f"torchaudio.{name}: torchaudio is not installed with ttsfw (scripts/wer.py passes arrays)")


class DNSMOS:
    """DNSMOS P.835 (`speechmos==0.0.1.1`, ONNX models in its wheel, run by onnxruntime):
    audio (N,) at 16 kHz -> the overall score OVRL, 1-5."""

    def __init__(self) -> None:
        from speechmos import dnsmos

        self.run = dnsmos.run

    def __call__(self, audio: np.ndarray) -> float:
        return float(self.run(audio, 16000)["ovrl_mos"])


class VoicedFraction:
    """The pitch tracker's view (librosa's pyin, 65-400 Hz, 64 ms frames): audio (N,) at 16 kHz
    -> the fraction of its frames that carry a pitch. Over-smoothed mels lose the harmonics
    that a tracker follows: issue 19 found 41% in the teacher and 0% in the shipped voice."""

    def __init__(self) -> None:
        import librosa

        self.pyin = librosa.pyin

    def __call__(self, audio: np.ndarray) -> float:
        _, voiced, _ = self.pyin(audio, fmin=65.0, fmax=400.0, sr=16000, frame_length=1024)
        return float(np.mean(voiced))
