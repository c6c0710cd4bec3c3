"""The pipeline: frontend -> acoustic model -> vocoder -> denoiser, on one device.

    from ttsfw import Pipeline
    tts = Pipeline.from_overrides(["vocoder=waveglow", "device=cpu"])
    result = tts.synthesize(["Hello there.", "A second sentence."])
    result.audio[0], result.sample_rate, result.timings
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig

from .config import compose_config
from .errors import ConfigError, InputError
from .plugins import get_registry
from .registry import BuildContext
from .stages import MaxDecoderStepsWarning
from .timing import StageTimer


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
    """Utterances in input order, the sample rate and per-stage seconds."""

    utterances: list[Utterance]
    sample_rate: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def audio(self) -> list[np.ndarray]:
        return [u.audio for u in self.utterances]


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
        context = BuildContext(device=self.device, precision=cfg.precision)
        context.frontend = registry.build("frontend", cfg.frontend, context)
        context.acoustic = self._place(registry.build("acoustic", cfg.acoustic, context))
        context.vocoder = self._place(registry.build("vocoder", cfg.vocoder, context))
        check_compatible(context.acoustic, context.vocoder)
        self.frontend = context.frontend
        self.acoustic = context.acoustic
        self.vocoder = context.vocoder
        self.denoiser = self._place(registry.build("denoiser", cfg.denoiser, context))

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

    def synthesize(self, texts: list[str]) -> SynthesisResult:
        """Speak every text; audio comes back in input order."""
        timer = StageTimer(self.device)
        utterances = [u for batch in self.iter_batches(texts, timer) for u in batch]
        utterances.sort(key=lambda u: u.index)
        return SynthesisResult(utterances, self.sample_rate, timer.as_dict())

    def iter_batches(
        self, texts: list[str], timer: StageTimer, indices: list[int] | None = None
    ) -> Iterator[list[Utterance]]:
        """Yield finished utterances batch by batch (longest inputs first).

        `indices` are the caller's numbers for `texts` (default 0..n-1); utterances carry them.
        """
        if not texts:
            raise InputError("no text to speak: the input is empty")
        indices = list(range(len(texts))) if indices is None else list(indices)
        with timer.stage("frontend"):
            encoded = self.encode_each(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))
        generator = self.device.generator(self.cfg.seed)
        batch_size = int(self.cfg.batch_size)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids = torch.nn.utils.rnn.pad_sequence([encoded[i] for i in rows], batch_first=True)
            lengths = torch.tensor([len(encoded[i]) for i in rows])
            batch = self.run_batch(ids, lengths, generator, timer)
            yield [
                self._utterance(indices[i], texts[i], row, batch, int(lengths[row]))
                for row, i in enumerate(rows)
            ]

    def encode_each(self, texts: list[str]) -> list[torch.Tensor]:
        """Symbol ids (T_in,) of every text, unpadded."""
        return [self.frontend.encode([text])[0][0] for text in texts]

    @torch.inference_mode()
    def run_batch(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None, timer: StageTimer
    ) -> dict[str, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> CPU tensors: mel (B, n_mel, T_out), mel_lengths (B,),
        alignments (B, T_out / r, T_in), audio (B, T_out * hop), hit (B,) bool; timed per stage."""
        device = self.device.device
        ids, lengths = ids.to(device), lengths.to(device)
        with self.device.autocast(self.cfg.precision):
            with timer.stage("acoustic"), self.device.stage("acoustic"), warnings.catch_warnings():
                warnings.simplefilter("ignore", MaxDecoderStepsWarning)  # reported per line below
                mel, mel_lengths, alignments = self.acoustic.infer(ids, lengths, generator=generator)
            with timer.stage("vocoder"), self.device.stage("vocoder"):
                audio = self.vocoder.infer(mel, generator=generator)
        audio = audio.float()
        if self.denoiser is not None:
            with timer.stage("denoiser"), self.device.stage("denoiser"):
                audio = self.denoiser(audio, float(self.cfg.denoiser.get("strength", 0.0)))
        hit = set(getattr(self.acoustic, "last_hit_max_steps", None) or ())
        return {
            "mel": mel.float().cpu(),
            "mel_lengths": mel_lengths.cpu(),
            "alignments": alignments.float().cpu(),
            "audio": audio.cpu(),
            "hit": torch.tensor([row in hit for row in range(len(ids))]),
        }

    def _utterance(self, index: int, text: str, row: int, batch: dict, in_length: int) -> Utterance:
        frames = int(batch["mel_lengths"][row])
        audio = batch["audio"][row, : frames * self.vocoder.hop_length].numpy()
        check_finite(audio, "vocoder/denoiser", index)
        if bool(batch["hit"][row]):
            warnings.warn(
                f"utterance {index + 1} reached max_decoder_steps "
                f"({self.cfg.acoustic.get('max_decoder_steps')}); its audio is probably cut off: "
                f"{text[:60]!r}",
                stacklevel=2,
            )
        return Utterance(
            index=index,
            text=text,
            audio=audio.astype(np.float32, copy=False),
            sample_rate=self.sample_rate,
            mel=batch["mel"][row, :, :frames],
            alignment=alignment(batch, row, frames, in_length),
            hit_max_decoder_steps=bool(batch["hit"][row]),
        )


def alignment(batch: dict[str, torch.Tensor], row: int, frames: int, in_length: int) -> torch.Tensor:
    """The attention of one batch row, cut to its length: (ceil(frames / r), in_length), one row
    per decoder step (an acoustic model emitting r frames per step has T_out / r rows)."""
    alignments, mel = batch["alignments"], batch["mel"]
    steps = -(-frames * alignments.size(1) // mel.size(2))
    return alignments[row, :steps, :in_length]


def describe_component(component: Any) -> dict[str, Any]:
    """class, parameters and, for a component with a dataclass ``config``, its fields."""
    kind = type(component)
    description: dict[str, Any] = {"class": f"{kind.__module__}.{kind.__qualname__}"}
    if isinstance(component, torch.nn.Module):
        description["parameters"] = sum(p.numel() for p in component.parameters())
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


def check_finite(values: np.ndarray, stage: str, index: int) -> None:
    if not np.isfinite(values).all():
        raise FloatingPointError(f"utterance {index + 1}: {stage} produced NaN or Inf")
