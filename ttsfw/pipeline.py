"""The pipeline: frontend -> acoustic model -> vocoder -> denoiser, on one device.

    from ttsfw import Pipeline
    tts = Pipeline.from_overrides(["device=cpu"])       # the shipped voice
    result = tts.synthesize(["Hello there.", "A second sentence."])
    result.audio[0], result.sample_rate, result.timings
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Iterator

import torch
from omegaconf import DictConfig

from .config import compose_config
from .devices import SlowPrecisionWarning
from .engine import Engine
from .results import AudioChunk, Failed, SynthesisResult, Utterance
from .errors import ConfigError, InputError, SynthesisError
from .plugins import get_registry
from .precision import Precision
from .registry import BuildContext
from .settings import JobSettings, job_settings
from .stages import MaxDecoderStepsWarning
from .streaming import RowAudio, StreamingVocoder
from .timing import StageTimer


@dataclass
class StageOutputs:
    """One batch through the stages, CPU tensors, rows in the caller's order."""

    mel: torch.Tensor  # (B, n_mel, T_out) float32, natural-log magnitudes
    mel_lengths: torch.Tensor  # (B,) valid frames per row
    alignments: torch.Tensor  # (B, ceil(T_out / r), T_in) attention, one row per decoder step
    audio: torch.Tensor  # (B, T_out * hop_length) float32 in [-1, 1], denoised if a denoiser runs
    hit_max_steps: torch.Tensor  # (B,) bool: the row was cut at max_decoder_steps

    def alignment(self, row: int, frames: int, in_length: int) -> torch.Tensor:
        """The attention of one row, cut to its length: (ceil(frames / r), in_length), one row
        per decoder step (an acoustic model emitting r frames per step has T_out / r rows)."""
        steps = -(-frames * self.alignments.size(1) // self.mel.size(2))
        return self.alignments[row, :steps, :in_length]


class Pipeline:
    """Builds every stage from a composed config and runs texts through them."""

    STAGES = ("frontend", "acoustic", "vocoder", "denoiser")

    def __init__(self, cfg: DictConfig, choices: dict[str, str] | None = None):
        self.cfg = cfg
        self.choices = dict(choices or {})
        registry = get_registry()
        self.device = registry.build("device", cfg.device, BuildContext())
        self.device.prepare()
        self.device.check_precision(cfg.precision)
        if (slow := self.device.slow_precision(cfg.precision)) is not None:
            warnings.warn(slow, SlowPrecisionWarning, stacklevel=2)
        precision = Precision(str(cfg.precision), str(cfg.get("quantize", "none")))
        context = BuildContext(device=self.device, precision=precision)
        runtime = registry.build("runtime", cfg.runtime, context)  # torch, onnxruntime: who builds
        context.frontend = registry.build("frontend", cfg.frontend, context)
        context.acoustic = self._place(runtime.build(registry, "acoustic", cfg.acoustic, context))
        context.vocoder = self._place(runtime.build(registry, "vocoder", cfg.vocoder, context))
        check_compatible(context.acoustic, context.vocoder)
        self.frontend = context.frontend
        self.acoustic = context.acoustic
        self.vocoder = context.vocoder
        self.denoiser = self._place(runtime.build(registry, "denoiser", cfg.denoiser, context))

    @classmethod
    def from_overrides(cls, overrides: Iterable[str] = ()) -> "Pipeline":
        """Compose the config as ``python -m ttsfw OVERRIDES...`` would and build it."""
        cfg, choices = compose_config(overrides)
        return cls(cfg, choices)

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "Pipeline":
        return cls(cfg)

    def _place(self, module: Any) -> Any:
        if isinstance(module, torch.nn.Module):
            module = module.to(self.device.device).eval()
        return module

    @cached_property
    def settings(self) -> JobSettings:
        """The job's checked settings (`job_settings`), made once: ~10 ms of config merging
        that a stream's first audio would otherwise wait for on every call."""
        return job_settings(self.cfg)

    @property
    def sample_rate(self) -> int:
        return int(self.vocoder.sample_rate)

    def models(self) -> dict[str, dict[str, Any]]:
        """What was actually built, per stage: its class, parameter count and architecture
        (sizes read from the checkpoint, not the config's nulls or defaults)."""
        return {
            stage: describe_component(component)
            for stage in self.STAGES
            if (component := getattr(self, stage)) is not None
        }

    def synthesize(self, texts: list[str], on_error: str = "raise") -> SynthesisResult:
        """Speak every text as ``python -m ttsfw`` does (the same engine: sentences and clauses,
        batches by length, retry in halves at max_decoder_steps, the same checks); one
        Utterance per text, in input order. A text that cannot be spoken raises SynthesisError
        naming it (``on_error="raise"``) or is left out and listed in ``skipped`` (``"skip"``)."""
        if not texts:
            raise InputError("no text to speak: the input is empty")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        timer = StageTimer(self.device)
        engine = Engine(self, self.settings, timer)
        utterances, skipped = [], {}
        for result in engine.whole_lines(list(texts), list(range(len(texts)))):
            if isinstance(result, Utterance):
                utterances.append(result)
            elif on_error == "raise":
                raise SynthesisError(f"text {result.line + 1} cannot be spoken: {result.reason}")
            else:
                skipped[result.line] = result.reason
        return SynthesisResult(utterances, self.sample_rate, timer.as_dict(), skipped)

    def stream(self, texts: str | list[str], on_error: str = "raise") -> Iterator[AudioChunk]:
        """Speak as `synthesize` does, yielding audio while it is decoded: each text's chunks
        in order (``chunk.line`` = its index), the first once 8 mel frames and the vocoder's
        context after them are decoded. Cuts at max_decoder_steps are warned about, not
        retried. A text that cannot be spoken raises SynthesisError (``on_error="raise"``,
        after its earlier chunks) or is skipped. Closing the iterator stops the decoder."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise InputError("no text to speak: the input is empty")
        engine = Engine(self, self.settings, StageTimer(self.device))
        for event in engine.stream_lines(texts, list(range(len(texts)))):
            if isinstance(event, Failed) and on_error == "raise":
                raise SynthesisError(f"text {event.line + 1} cannot be spoken: {event.reason}")
            if isinstance(event, AudioChunk):
                yield event

    def warm_up(self, text: str = "Warm up.") -> None:
        """Stream `text` once and drop its audio, so that a first call's one-time costs (kernel
        choice, allocations: ~0.9 s for int8 Tacotron2 + HiFi-GAN V2 on a CPU) are paid before
        anyone waits on them (``ttsfw serve`` does, in its worker thread, before it listens).
        A text the voice cannot speak, or cuts at its step limit, is no error here."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MaxDecoderStepsWarning)
            for _ in self.stream(text, on_error="skip"):
                pass

    @torch.inference_mode()
    def stream_batch(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None, timer: StageTimer
    ) -> Iterator[RowAudio]:
        """`run_batch` while the acoustic model decodes: each row's audio in order, rows
        interleaved, as soon as the vocoder's context of it is known (`streaming.py`)."""
        device = self.device.device
        vocoder = StreamingVocoder(self.vocoder, self.denoiser, len(ids), generator)
        mels = self.acoustic.stream_mels(
            ids.to(device), lengths.to(device), generator=generator, lookahead=vocoder.right
        )
        try:
            while True:
                with self.device.autocast(self.cfg.precision):
                    with timer.stage("acoustic"), self.device.stage("acoustic"):
                        chunk = next(mels, None)
                    if chunk is None:
                        return
                    with timer.stage("vocoder"), self.device.stage("vocoder"):
                        ready = list(vocoder.push(chunk))
                yield from ready
        finally:
            mels.close()

    def encode_each(self, texts: list[str]) -> list[torch.Tensor]:
        """Symbol ids (T_in,) of every text, unpadded."""
        return [self.frontend.encode([text])[0][0] for text in texts]

    @torch.inference_mode()
    def run_batch(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None, timer: StageTimer
    ) -> StageOutputs:
        """ids (B, T_in), lengths (B,) -> every stage's outputs (CPU), timed per stage."""
        device = self.device.device
        ids, lengths = ids.to(device), lengths.to(device)
        with self.device.autocast(self.cfg.precision):
            with timer.stage("acoustic"), self.device.stage("acoustic"), warnings.catch_warnings():
                warnings.simplefilter("ignore", MaxDecoderStepsWarning)  # the engine reports cuts
                mels = self.acoustic.mels(ids, lengths, generator=generator)
            with timer.stage("vocoder"), self.device.stage("vocoder"):
                audio = self.vocoder.infer(mels.mel, generator=generator)
        audio = audio.float()
        if self.denoiser is not None:
            with timer.stage("denoiser"), self.device.stage("denoiser"):
                audio = self.denoiser(audio)  # at the strength it was built with
        hit = set(mels.hit_max_steps)
        return StageOutputs(
            mel=mels.mel.float().cpu(),
            mel_lengths=mels.lengths.cpu(),
            alignments=mels.alignments.float().cpu(),
            audio=audio.cpu(),
            hit_max_steps=torch.tensor([row in hit for row in range(len(ids))]),
        )


def describe_component(component: Any) -> dict[str, Any]:
    """class, parameters, what it computes in (``formats()``) and, for a component with a
    dataclass ``config``, its fields."""
    kind = type(component)
    description: dict[str, Any] = {"class": f"{kind.__module__}.{kind.__qualname__}"}
    if isinstance(component, torch.nn.Module):
        description["parameters"] = sum(p.numel() for p in component.parameters())
    if callable(getattr(component, "formats", None)):
        description["formats"] = component.formats()
    config = getattr(component, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        description["architecture"] = dataclasses.asdict(config)
    return description


def check_compatible(acoustic: Any, vocoder: Any) -> None:
    """The acoustic model's mels must be what the vocoder expects."""
    for attribute in ("sample_rate", "hop_length", "n_mel_channels"):
        a, v = getattr(acoustic, attribute, None), getattr(vocoder, attribute, None)
        if a is not None and v is not None and int(a) != int(v):
            raise ConfigError(
                f"acoustic model and vocoder disagree on {attribute}: {a} vs {v}; "
                f"choose a vocoder trained for this acoustic model's mels"
            )
