"""``python -m ttsfw.train.postfilter``: train a `MelPostfilter` for a Tacotron2 voice, adversarially.

Pairs: the voice's Tacotron2 run teacher-forced on a corpus (dropouts off, prenet dropout on,
as at inference) gives mels frame-aligned with the corpus's own; the postfilter learns to map
the first to the second. Losses, as in HiFi-GAN's recipe (Kong et al. 2020), on random
CROP_FRAMES-frame crops: least-squares GAN against a 2-D convolutional discriminator over
(frequency, time), the discriminator's feature matching (x FEATURE_WEIGHT), and L1 to the
target mel (x ``--l1-weight``). Saves the training state every ``--save-every`` steps
(re-running the command resumes exactly) and a weights file per save for choosing on the val
split (docs/voice.md).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from ..audio.stft import MelSpectrogram
from ..components.tacotron2.load import load_tacotron2
from ..components.tacotron2.model import Tacotron2
from ..components.tacotron2.postfilter import MelPostfilter
from ..config import compose_config
from ..errors import ConfigError
from ..plugins import get_registry
from ..registry import BuildContext
from ..stages import Frontend
from ..weights.load import load_checkpoint
from ..weights.store import resolve_checkpoint
from .data import collate, dequantise, load_examples, quantise
from .teacher_forcing import teacher_forced

CROP_FRAMES = 64
FEATURE_WEIGHT = 2.0
LAST = "postfilter_last.pt"


class Discriminator(nn.Module):
    """mel crops (B, n_mel, T) -> scores (B, 1, n_mel / 8, T / 8) and the hidden feature maps."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64, 64)):
        super().__init__()
        sizes = (1, *channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=1 if i == 0 else 2, padding=1)
            for i, (a, b) in enumerate(zip(sizes, sizes[1:]))
        )
        self.score = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        hidden, features = mel[:, None], []
        for conv in self.convs:
            hidden = F.leaky_relu(conv(hidden), 0.2)
            features.append(hidden)
        return self.score(hidden), features


def teacher_forced_pairs(
    model: Tacotron2, frontend: Frontend, filelist: Path, voice: str, batch_size: int = 16
) -> list[torch.Tensor]:
    """Each utterance of `filelist` -> (2, n_mel, T) uint8: the model's teacher-forced mel and
    the corpus mel, quantised as the training mel cache is; cached as `<filelist>.pairs.pt`,
    made again when the voice or its weights (a checksum of them) differ."""
    cache = filelist.with_suffix(".pairs.pt")
    made_by = {"voice": voice, "weights": float(sum(p.double().sum() for p in model.parameters()))}
    if cache.is_file():
        stored = torch.load(cache, weights_only=True)
        if stored.get("made_by") == made_by:
            return stored["pairs"]
    examples = load_examples(filelist, frontend, MelSpectrogram(n_mel_channels=model.n_mel_channels))
    pairs = []
    with torch.no_grad():
        for start in tqdm(range(0, len(examples), batch_size), desc=f"teacher-forced {filelist.name}", unit="batch"):
            batch = collate(examples[start : start + batch_size], model.config.n_frames_per_step)
            out = teacher_forced(model, batch.ids, batch.text_lengths, batch.mels, 0.0, 0.0)
            for row, frames in enumerate(batch.mel_lengths.tolist()):
                pair = torch.stack((out.mel_postnet[row, :, :frames], batch.mels[row, :, :frames]))
                pairs.append(quantise(pair))
    partial = cache.with_name(cache.name + ".part")
    torch.save({"made_by": made_by, "pairs": pairs}, partial)
    partial.replace(cache)
    return pairs


def random_crops(pairs: list[torch.Tensor], count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` random CROP_FRAMES-frame crops -> inputs and targets, each (count, n_mel, CROP_FRAMES)."""
    crops = []
    while len(crops) < count:
        pair = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
        spare = pair.shape[-1] - CROP_FRAMES
        if spare >= 0:
            start = int(torch.randint(spare + 1, (1,), generator=generator))
            crops.append(dequantise(pair[..., start : start + CROP_FRAMES]))
    both = torch.stack(crops)
    return both[:, 0], both[:, 1]


class PostfilterTrainer:
    """The GAN loop over teacher-forced pairs, with exact resume from run_dir/postfilter_last.pt."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.run_dir = args, Path(args.run_dir)
        cfg = compose_config([f"voice={args.voice}"])[0]
        model = load_tacotron2(resolve_checkpoint(cfg.acoustic.checkpoint))
        frontend = get_registry().build("frontend", cfg.frontend, BuildContext())

        def pairs(filelist: str) -> list[torch.Tensor]:
            return teacher_forced_pairs(model, frontend, Path(filelist), args.voice)

        self.pairs = [pair for filelist in args.train for pair in pairs(filelist)]
        self.val = pairs(args.val) if args.val else []
        if not any(p.shape[-1] >= CROP_FRAMES for p in self.pairs):
            raise ConfigError(f"no training utterance is {CROP_FRAMES} frames long or more")
        torch.manual_seed(args.seed)
        self.postfilter = MelPostfilter(model.n_mel_channels)
        self.discriminator = Discriminator()
        self.optimizers = [
            torch.optim.AdamW(m.parameters(), args.lr, betas=(0.8, 0.99))
            for m in (self.postfilter, self.discriminator)
        ]
        self.generator = torch.Generator().manual_seed(args.seed)
        self.step, self.history = 0, []
        if (self.run_dir / LAST).is_file():
            self._resume(self.run_dir / LAST)

    def train_step(self) -> dict[str, float]:
        """One discriminator and one postfilter update on a batch of crops; the losses."""
        source, target = random_crops(self.pairs, self.args.batch_size, self.generator)
        refined = self.postfilter(source)
        d_optimizer, g_optimizer = self.optimizers[1], self.optimizers[0]
        real, _ = self.discriminator(target)
        fake, _ = self.discriminator(refined.detach())
        d_loss = ((real - 1) ** 2).mean() + (fake**2).mean()
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()
        fake, fake_features = self.discriminator(refined)
        _, real_features = self.discriminator(target)
        adversarial = ((fake - 1) ** 2).mean()
        matching = sum((f - r.detach()).abs().mean() for f, r in zip(fake_features, real_features))
        l1 = (refined - target).abs().mean()
        g_loss = adversarial + FEATURE_WEIGHT * matching + self.args.l1_weight * l1
        if not math.isfinite(g_loss.item()):
            raise FloatingPointError(f"step {self.step}: postfilter loss is {g_loss.item()}; lower --lr")
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        return {"d": float(d_loss), "adversarial": float(adversarial), "matching": float(matching), "l1": float(l1)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """L1 to the target over the val pairs, before and after the postfilter."""
        self.postfilter.eval()
        total = before = frames = 0.0
        for pair in self.val:
            source, target = dequantise(pair)[:, None]
            total += float((self.postfilter(source) - target).abs().sum())
            before += float((source - target).abs().sum())
            frames += target.numel()
        self.postfilter.train()
        return {"val_l1": total / frames, "val_l1_unfiltered": before / frames}

    def fit(self) -> None:
        args = self.args
        bar = tqdm(total=args.steps, initial=self.step, unit="step", mininterval=1.0)
        while self.step < args.steps:
            losses = self.train_step()
            self.step += 1
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            bar.update(1)
            if self.step % args.save_every == 0 or self.step == args.steps:
                record = {"step": self.step, **losses, **(self.validate() if self.val else {})}
                self.history.append(record)
                tqdm.write(json.dumps(record))
                self.save()
        bar.close()

    def save(self) -> None:
        """run_dir/postfilter_last.pt (the training state) and postfilter_NNNNNNN.pt (fp16 weights)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        weights = {k: v.half() for k, v in self.postfilter.state_dict().items()}
        torch.save({"state_dict": weights, "config": self.postfilter.config}, self.run_dir / f"postfilter_{self.step:07d}.pt")
        state = {
            "state_dict": self.postfilter.state_dict(),
            "config": self.postfilter.config,
            "discriminator": self.discriminator.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "step": self.step,
            "generator": self.generator.get_state(),
            "rng": torch.get_rng_state(),
            "history": json.dumps(self.history),
        }
        partial = self.run_dir / (LAST + ".part")
        torch.save(state, partial)
        partial.replace(self.run_dir / LAST)

    def _resume(self, path: Path) -> None:
        state = load_checkpoint(path, map_location="cpu")
        self.postfilter.load_state_dict(state["state_dict"])
        self.discriminator.load_state_dict(state["discriminator"])
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        self.step, self.history = state["step"], json.loads(state["history"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        tqdm.write(f"resumed from {path} at step {self.step}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="joe", help="the voice whose Tacotron2 is filtered (default: joe)")
    parser.add_argument("--train", nargs="+", required=True, help="teacher corpus filelists (`path.wav|text`)")
    parser.add_argument("--val", help="a val filelist: L1 before/after at each save")
    parser.add_argument("--run-dir", default="outputs/train/postfilter")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--l1-weight", type=float, default=1.0)
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        PostfilterTrainer(args).fit()
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
