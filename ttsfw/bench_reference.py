"""``mode.reference=piper``: another TTS timed beside the pipeline, in the same bench iterations.

Every iteration (warm-up included) first speaks its batch through the ttsfw pipeline, then the
same texts through the reference, one after another, on the same cores: both see the same
machine load, so ``speed_vs_reference`` (the reference's RTF / the pipeline's, per iteration;
above 1 = ttsfw is faster) is a ratio measured in one run. The reference runs on the CPU with
``device.threads`` intra-op threads (unset: the cores this process may use), which do not
spin-wait between runs (onnxruntime's default would keep them spinning into the pipeline's turn;
the pipeline's own OpenMP threads spin briefly, ``GOMP_SPINCOUNT=10000``).

Piper's own text frontend (espeak-ng phonemes) is timed apart, as ``reference_pre_processing``,
like the pipeline's ``pre_processing``; ``reference_latency`` is its VITS graph alone.
"""

from __future__ import annotations

import time

from omegaconf import DictConfig

from .errors import ConfigError
from .threads import available_cpus

#: mode.reference values: none, or a reference voice
REFERENCES = ("none", "piper")


class PiperReference:
    """Piper's en_US-joe-medium (ttsfw.piper) as the bench's reference row."""

    name = "piper"

    def __init__(self, threads: int, seed: int | None):
        from .piper import PiperVoice

        # no spin-waiting: a spinning pool would hold the cores through the pipeline's turn
        self.voice = PiperVoice(threads=threads, seed=seed, spin=False)

    def describe(self) -> dict[str, object]:
        import onnxruntime

        return {
            "name": self.name,
            "voice": "en_US-joe-medium",
            "runtime": f"onnxruntime {onnxruntime.__version__}",
            "threads": self.voice.threads,
        }

    def measure(self, texts: list[str]) -> dict[str, float]:
        """Speak `texts` one by one -> this iteration's reference numbers (seconds)."""
        from .piper import SAMPLE_RATE

        started = time.perf_counter()
        ids = [self.voice.phoneme_ids(text) for text in texts]
        pre_processing = time.perf_counter() - started
        started = time.perf_counter()
        samples = sum(self.voice.speak_ids(row).size for row in ids)
        latency = time.perf_counter() - started
        audio_seconds = samples / SAMPLE_RATE
        return {
            "reference_pre_processing": pre_processing,
            "reference_latency": latency,
            "reference_audio_seconds": audio_seconds,
            "reference_rtf": latency / audio_seconds,
        }


def bench_reference(cfg: DictConfig) -> PiperReference | None:
    """The reference of ``mode.reference`` (None for none), or a ConfigError saying why not."""
    name = str(cfg.mode.reference)
    if name not in REFERENCES:
        raise ConfigError(f"mode.reference must be one of {', '.join(REFERENCES)}, got {name!r}")
    if name == "none":
        return None
    threads = int(cfg.device.get("threads") or available_cpus())
    try:
        return PiperReference(threads, None if cfg.seed is None else int(cfg.seed))
    except ImportError as error:
        raise ConfigError(f"mode.reference=piper: {error}") from error
