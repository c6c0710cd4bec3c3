"""The training loop: length-bucketed batches, clipped Adam steps, validation, plots, exact resume.

A checkpoint holds the weights with their Tacotron2 config (so `acoustic.checkpoint=` can load
it as it is), the optimizer, the position in the batch order and every RNG state: a resumed run
takes the same steps as one that was never interrupted.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ..audio.stft import MelSpectrogram
from ..weights.load import load_checkpoint
from ..config import CONF_DIR, compose_config
from ..errors import ConfigError
from ..components.tacotron2.load import load_tacotron2
from ..components.tacotron2.model import Tacotron2, Tacotron2Config
from ..plugins import get_registry
from ..registry import BuildContext
from .data import Batch, Example, LengthBucketBatches, collate, load_examples
from .frames_per_step import convert_frames_per_step
from .losses import tacotron2_losses
from .teacher_forcing import TrainingOutput, teacher_forced

LAST = "checkpoint_last.pt"
log = logging.getLogger(__name__)


def inference_stages(cfg: DictConfig) -> DictConfig:
    """The inference config with the training run's device and frontend: their nodes are
    composed exactly as ``python -m ttsfw`` composes them, so training speaks as inference does."""
    overrides = [f"device={cfg.device}", f"frontend={cfg.frontend.name}"]
    if cfg.threads is not None:
        overrides.append(f"device.threads={cfg.threads}")
    overrides += [f"frontend.{key}={value}" for key, value in cfg.frontend.items() if key != "name"]
    return compose_config(overrides)[0]


def compose_train_config(overrides: list[str] = ()) -> DictConfig:
    """The training config as ``python -m ttsfw.train OVERRIDES...`` composes it (no run dir made)."""
    with initialize_config_dir(str(CONF_DIR / "train"), version_base="1.3", job_name="train"):
        return compose("train", overrides=list(overrides))


class Trainer:
    """Builds the model, data and optimizer from the ``conf/train/train.yaml`` config."""

    def __init__(self, cfg: DictConfig):
        if OmegaConf.is_missing(cfg, "train_filelist"):
            raise ConfigError(
                "train_filelist is not set: train_filelist=PATH (lines `path.wav|text`)"
            )
        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir)
        registry = get_registry()
        stages = inference_stages(cfg)
        self.backend = registry.build("device", stages.device, BuildContext())
        self.backend.prepare()
        self.device = self.backend.device
        frontend = registry.build("frontend", stages.frontend, BuildContext())
        model_options = OmegaConf.to_container(cfg.model, resolve=True)
        model_options["n_symbols"] = len(frontend.symbols)
        torch.manual_seed(cfg.seed)
        config = Tacotron2Config.from_mapping(model_options)
        self.model = Tacotron2(config)
        if cfg.init_from:
            self.model.load_state_dict(initial_weights(cfg.init_from, config))
        self.model.to(self.device)
        mel = MelSpectrogram(n_mel_channels=self.model.n_mel_channels)
        self.train_set = load_examples(cfg.train_filelist, frontend, mel)
        self.val_set = load_examples(cfg.val_filelist, frontend, mel) if cfg.val_filelist else []
        self.batches = LengthBucketBatches(
            [e.frames for e in self.train_set], cfg.batch_size, cfg.seed
        )
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.step, self.epoch, self.index = 0, 0, 0
        self.history: list[dict[str, float]] = []
        self._resume()

    # -- the loop -------------------------------------------------------------------------
    def fit(self) -> list[dict[str, float]]:
        """Train until `max_steps`; returns the logged history (one dict per `log_every` steps)."""
        cfg = self.cfg
        positions = self.batches.from_position(self.epoch, self.index)
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            disable=not cfg.progress,
            unit="step",
            mininterval=1.0,
        )
        running: dict[str, float] = {}
        while self.step < cfg.max_steps:
            epoch, index, indices = next(positions)
            losses = self.train_step(self.collate([self.train_set[i] for i in indices]))
            self.step, self.epoch, self.index = self.step + 1, epoch, index + 1
            for name, value in losses.items():
                running[name] = running.get(name, 0.0) + value / cfg.log_every
            if self.step % cfg.log_every == 0:
                self.history.append({"step": self.step, **running})
                bar.set_postfix({k: f"{v:.3f}" for k, v in running.items() if k != "grad_norm"})
                if not cfg.progress:  # no bar to show them: a line in run_dir/train.log and on stderr
                    log.info("step %d: %s", self.step, " ".join(f"{k} {v:.4f}" for k, v in running.items()))
                running = {}
            if self.val_set and self.step % cfg.val_every == 0:
                self.validate()
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.max_steps:
                self.save()
            bar.update(1)
        bar.close()
        return self.history

    def learning_rate(self) -> float:
        cfg = self.cfg
        decayed = cfg.lr * 0.5 ** (max(0, self.step - cfg.lr_decay_start) / cfg.lr_half_life)
        return max(cfg.lr_min, decayed)

    def collate(self, examples: list[Example]) -> Batch:
        """A padded batch for the model's n_frames_per_step."""
        return collate(examples, self.model.config.n_frames_per_step)

    def forward(self, batch: Batch) -> tuple[TrainingOutput, dict[str, torch.Tensor]]:
        cfg = self.cfg
        out = teacher_forced(
            self.model,
            batch.ids,
            batch.text_lengths,
            batch.mels,
            cfg.attention_dropout,
            cfg.decoder_dropout,
        )
        losses = tacotron2_losses(out, batch, cfg.guided_attention.width, cfg.gate_pos_weight)
        losses["total"] = (
            losses["mel"]
            + losses["postnet"]
            + losses["gate"]
            + cfg.guided_attention.weight * losses["attention"]
        )
        return out, losses

    def train_step(self, batch: Batch) -> dict[str, float]:
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        _, losses = self.forward(batch.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        if not math.isfinite(float(grad_norm)):
            raise FloatingPointError(
                f"step {self.step}: gradient norm is {float(grad_norm)}; lower lr"
            )
        self.optimizer.step()
        return {name: value.item() for name, value in losses.items()} | {
            "grad_norm": grad_norm.item()
        }

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Teacher-forced loss over the validation set (batch_size at a time); plots the first item."""
        self.model.eval()
        devices = [] if self.device.type == "cpu" else [self.device]
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.manual_seed(self.cfg.seed)  # prenet dropout stays on, as at inference
            totals: dict[str, float] = {}
            size = self.cfg.batch_size
            for start in range(0, len(self.val_set), size):
                batch = self.collate(self.val_set[start : start + size])
                out, losses = self.forward(batch.to(self.device))
                for name, value in losses.items():
                    totals[name] = totals.get(name, 0.0) + float(value) * len(batch.ids) / len(
                        self.val_set
                    )
                if start == 0:
                    self.plot(out, batch)
        record = {"step": self.step, **{f"val_{k}": v for k, v in totals.items()}}
        self.history.append(record)
        with open(self.run_dir / "validation.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        tqdm.write(
            f"step {self.step}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "step")
        )
        return record

    def plot(self, out: TrainingOutput, batch: Batch) -> None:
        """plots/step_NNNNNNN.png: attention alignment, target and predicted mel of one item."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        frames, symbols = int(batch.mel_lengths[0]), int(batch.text_lengths[0])
        steps = int(batch.step_lengths[0])
        fig, axes = plt.subplots(3, 1, figsize=(8, 9))
        panels = [
            (out.alignments[0, :steps, :symbols].T, "alignment (symbols x decoder steps)"),
            (batch.mels[0, :, :frames], "target mel"),
            (out.mel_postnet[0, :, :frames], "predicted mel (teacher-forced)"),
        ]
        for ax, (image, title) in zip(axes, panels):
            ax.imshow(
                image.float().cpu().numpy(), aspect="auto", origin="lower", interpolation="none"
            )
            ax.set_title(f"{title}, step {self.step}")
        fig.tight_layout()
        (self.run_dir / "plots").mkdir(parents=True, exist_ok=True)
        fig.savefig(self.run_dir / "plots" / f"step_{self.step:07d}.png")
        plt.close(fig)

    # -- checkpoints ------------------------------------------------------------------------
    def save(self) -> Path:
        """Write run_dir/checkpoint_last.pt atomically (and keep a copy per `keep_every` steps)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "state_dict": self.model.state_dict(),
            "config": self.model.config.architecture(),
            "optimizer": self.optimizer.state_dict(),
            "position": {"step": self.step, "epoch": self.epoch, "index": self.index},
            "rng": _rng_states(self.device),
            "history": json.dumps(self.history),
            "train_config": json.dumps(OmegaConf.to_container(self.cfg, resolve=True)),
        }
        partial = self.run_dir / (LAST + ".part")
        torch.save(state, partial)
        partial.replace(self.run_dir / LAST)
        if self.cfg.keep_every and self.step % self.cfg.keep_every == 0:
            torch.save(state, self.run_dir / f"checkpoint_{self.step:07d}.pt")
        return self.run_dir / LAST

    def _resume(self) -> None:
        resume = self.cfg.resume
        if resume is None:
            return
        path = self.run_dir / LAST if resume == "auto" else Path(resume).expanduser()
        if not path.is_file():
            if resume == "auto":
                return
            raise ConfigError(
                f"resume={resume}: no such checkpoint; use resume=auto or resume=null"
            )
        state = load_checkpoint(path, map_location="cpu")
        if "optimizer" not in state or "position" not in state:
            raise ConfigError(
                f"{path} holds weights only, not a training state; start from it with "
                f"init_from={path} resume=null"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.index = (
            state["position"][k] for k in ("step", "epoch", "index")
        )
        self.history = json.loads(state["history"])
        _set_rng_states(state["rng"], self.device)
        tqdm.write(f"resumed from {path} at step {self.step}")


def initial_weights(path: str | Path, config: Tacotron2Config) -> dict[str, torch.Tensor]:
    """The weights of `path` for a model of `config` (checked like any acoustic checkpoint).

    The sizes must match; only n_frames_per_step may differ (see `convert_frames_per_step`).
    """
    loaded = load_tacotron2(path)
    r_from, r_to = loaded.config.n_frames_per_step, config.n_frames_per_step
    if replace(loaded.config, n_frames_per_step=r_to).architecture() != config.architecture():
        raise ConfigError(
            f"init_from={path} is a Tacotron2 of another size than model=...; "
            f"choose the model option that matches it"
        )
    return convert_frames_per_step(loaded.state_dict(), r_from, r_to, config.n_mel_channels)


def _rng_states(device: torch.device) -> dict[str, Any]:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
