"""WaveGlow (Prenger, Valle & Catanzaro 2019): a flow-based vocoder, weight-compatible with
NVIDIA's DeepLearningExamples (DLE) and NVIDIA/waveglow checkpoints.

The model is kept in its inference form: weight norm folded into plain ``weight`` tensors and
the per-layer conditioning convolutions of a WN fused into one ``cond_layer`` (NVIDIA glow.py's
layout; one matrix product per flow instead of n_layers). Both reference layouts load exactly
(checkpoint.py); `reference_state_dict` writes either layout back. Sizes are read from tensor
shapes, never from flags or file configs.
"""

from __future__ import annotations

import contextlib
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, ContextManager, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ... import draws
from ...draws import Generators
from ...errors import CheckpointError, ConfigError
from ...stages import Vocoder
from .checkpoint import architecture_from_tensors, inference_state_dict, reference_layout



@dataclass(frozen=True)
class WaveGlowConfig:
    """Architecture (the reference constructor's names; WN_config flattened).

    Defaults are NVIDIA's published model with DLE's 512 WN channels (NVIDIA/waveglow: 256).
    """

    n_mel_channels: int = 80
    n_flows: int = 12
    n_group: int = 8
    n_early_every: int = 4
    n_early_size: int = 2
    n_layers: int = 8
    kernel_size: int = 3
    n_channels: int = 512

    def __post_init__(self) -> None:
        if self.n_group % 2 or self.n_early_size % 2:
            raise ConfigError(
                f"waveglow: n_group ({self.n_group}) and n_early_size ({self.n_early_size}) must be even"
            )
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"waveglow: kernel_size must be odd, got {self.kernel_size}")
        if (
            min(
                self.n_flows,
                self.n_layers,
                self.n_channels,
                self.n_early_every,
                self.n_mel_channels,
            )
            < 1
        ):
            raise ConfigError(f"waveglow: sizes must be positive, got {asdict(self)}")
        if self.n_remaining_channels < 2:
            raise ConfigError(
                f"waveglow: n_group={self.n_group} leaves {self.n_remaining_channels} channel(s) after "
                f"early outputs of {self.n_early_size} every {self.n_early_every} of {self.n_flows} flows"
            )

    @property
    def n_remaining_channels(self) -> int:
        """Channels left after the last early output (what the initial noise z fills)."""
        return self.n_group - self.n_early_size * ((self.n_flows - 1) // self.n_early_every)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "WaveGlowConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown waveglow option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        # null = not chosen: from the checkpoint, or these defaults for random weights
        return cls(**{key: int(value) for key, value in options.items() if value is not None})

    @classmethod
    def from_state_dict(
        cls, tensors: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> "WaveGlowConfig":
        """Read the sizes off an inference-form state dict (see `inference_state_dict`)."""
        try:
            return cls(**architecture_from_tensors(tensors, source))
        except ConfigError as exc:
            raise CheckpointError(f"{source} is not a usable WaveGlow checkpoint: {exc}") from None





class Invertible1x1Conv(nn.Module):
    """Invertible 1x1 convolution W (c, c). Inference applies W^-1 to z (B, c, L).

    W^-1 is a (non-persistent) buffer, recomputed whenever the weights are loaded or moved
    (``.to(device/dtype)``): on CPU, in float32 or wider, so ``.half()`` leaves it in float32.
    """

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv1d(c, c, kernel_size=1, bias=False)
        if not self.conv.weight.is_meta:  # a random orthonormal W with det +1, as the reference
            w = torch.linalg.qr(torch.randn(c, c))[0]
            if torch.det(w) < 0:
                w[:, 0] = -w[:, 0]
            self.conv.weight.data = w.unsqueeze(-1).contiguous()
        self.register_buffer("W_inverse", None, persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _: module.invert())
        self.invert()

    def invert(self) -> None:
        """(Re)compute `W_inverse` from the weight."""
        weight = self.conv.weight.detach().squeeze(-1)
        dtype = torch.promote_types(weight.dtype, torch.float32)
        if weight.is_meta:  # built empty before a checkpoint is assigned: done after loading
            inverse = torch.empty_like(weight, dtype=dtype)
        else:
            inverse = torch.linalg.inv_ex(weight.cpu().to(dtype))[0].to(weight.device)
        self.W_inverse = inverse.unsqueeze(-1)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.invert()
        return self

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, c, L) -> W^-1 z (B, c, L), in W_inverse's dtype even under autocast."""
        with _without_autocast(z.device.type):
            return F.conv1d(z, self.W_inverse)


def _without_autocast(device_type: str) -> ContextManager:
    """Autocast switched off for `device_type` where it is on (meta has no autocast at all)."""
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except RuntimeError:
        enabled = False
    return torch.autocast(device_type, enabled=False) if enabled else contextlib.nullcontext()


class WN(nn.Module):
    """Non-causal WaveNet of one affine coupling: audio half (B, n_in, L) and conditioning
    (B, n_cond, L) -> (B, 2 * n_in, L) = [b; log s]. Dilation doubles each layer."""

    def __init__(self, n_in: int, n_cond: int, n_layers: int, n_channels: int, kernel_size: int):
        super().__init__()
        self.n_layers, self.n_channels = n_layers, n_channels
        self.start = nn.Conv1d(n_in, n_channels, 1)
        self.cond_layer = nn.Conv1d(n_cond, 2 * n_channels * n_layers, 1)
        self.in_layers = nn.ModuleList(
            nn.Conv1d(
                n_channels,
                2 * n_channels,
                kernel_size,
                dilation=2**i,
                padding=(kernel_size - 1) * 2**i // 2,
            )
            for i in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(n_channels, 2 * n_channels if i < n_layers - 1 else n_channels, 1)
            for i in range(n_layers)
        )
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        if not self.end.weight.is_meta:  # zero: every coupling starts as the identity
            nn.init.zeros_(self.end.weight)
            nn.init.zeros_(self.end.bias)

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Inference only: the activations are updated in place (no autograd through this)."""
        channels = self.n_channels
        audio = pointwise(self.start, audio)
        # the conditioning's bias joins each in_layer's own (one vector add, not a pass over L)
        cond = pointwise(self.cond_layer, cond, bias=False)
        cond_bias = self.cond_layer.bias.view(self.n_layers, 2 * channels)
        skip = None
        for i, (in_layer, res_skip_layer) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            bias = in_layer.bias + cond_bias[i]
            acts = F.conv1d(
                audio, in_layer.weight, bias, padding=in_layer.padding, dilation=in_layer.dilation
            )
            acts = acts.add_(cond[:, 2 * channels * i : 2 * channels * (i + 1)])
            gated = acts[:, :channels].tanh_().mul_(acts[:, channels:].sigmoid_())
            res_skip = pointwise(res_skip_layer, gated)
            if i < self.n_layers - 1:
                audio = audio.add_(res_skip[:, :channels])
                res_skip = res_skip[:, channels:]
            skip = res_skip if skip is None else skip.add_(res_skip)
        return pointwise(self.end, skip)


def pointwise(conv: nn.Conv1d, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
    """A 1x1 convolution, x (B, C_in, L) -> (B, C_out, L), as one batched GEMM: MKL's GEMM
    measured faster here than the convolution kernel for these shapes."""
    weight = conv.weight[:, :, 0].expand(x.size(0), -1, -1)
    return torch.baddbmm(conv.bias[:, None], weight, x) if bias else torch.bmm(weight, x)


class WaveGlow(Vocoder):
    """mel (B, n_mel, T) -> audio (B, 256 * T), by running the flows backwards on noise.

    `sigma` scales the noise (0.6 by default; 0 gives the mean, deterministic audio). The
    flows run in the model's dtype (or under autocast), the affine steps and W^-1 in float32
    or wider.
    """

    sample_rate = 22050
    hop_length = 256
    upsample_kernel = 1024

    def __init__(self, config: WaveGlowConfig = WaveGlowConfig(), sigma: float = 0.6):
        super().__init__()
        self.config, self.sigma = config, sigma
        self.n_mel_channels = config.n_mel_channels
        n_cond = config.n_mel_channels * config.n_group
        self.upsample = nn.ConvTranspose1d(
            config.n_mel_channels,
            config.n_mel_channels,
            self.upsample_kernel,
            stride=self.hop_length,
        )
        self.WN, self.convinv = nn.ModuleList(), nn.ModuleList()
        n_remaining = config.n_group
        for k in range(config.n_flows):
            if self.has_early_output(k):
                n_remaining -= config.n_early_size
            self.convinv.append(Invertible1x1Conv(n_remaining))
            self.WN.append(
                WN(n_remaining // 2, n_cond, config.n_layers, config.n_channels, config.kernel_size)
            )

    @property
    def context_frames(self) -> tuple[int, int]:
        """The receptive field in mel frames (`Vocoder.context_frames`): each flow's WN reaches
        (kernel - 1) / 2 * (2^n_layers - 1) grouped samples to each side (hop / n_group of them
        per frame), the flows one after another; the upsampling conv reaches (kernel - 1) // hop
        frames back."""
        c = self.config
        per_frame = self.hop_length // c.n_group
        reach = c.n_flows * (c.kernel_size - 1) // 2 * (2**c.n_layers - 1)
        back = (self.upsample_kernel - 1) // self.hop_length
        return -(-reach // per_frame) + back, (reach + per_frame - 1) // per_frame

    def has_early_output(self, k: int) -> bool:
        """Whether flow k splits off n_early_size channels (its noise enters after it, in infer)."""
        return k > 0 and k % self.config.n_early_every == 0

    @classmethod
    def from_state_dict(
        cls, tensors: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> "WaveGlow":
        """Build from reference tensors (DLE or NVIDIA layout, weight norm folded or not)."""
        tensors = inference_state_dict(tensors, source)
        with torch.device("meta"):
            model = cls(WaveGlowConfig.from_state_dict(tensors, source))
        try:
            model.load_state_dict(tensors, assign=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:400]
            raise CheckpointError(f"{source}: tensors do not fit a WaveGlow: {detail}") from None
        return model.eval()

    @staticmethod
    def remove_weightnorm(model: "WaveGlow") -> "WaveGlow":
        """`model` as it is: its weight norm is folded when loaded. Kept so that the reference's
        ``waveglow = waveglow.remove_weightnorm(waveglow)`` runs."""
        return model

    def condition(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, n_mel, T) -> upsampled, grouped conditioning (B, n_mel * n_group, 256 * T / n_group)."""
        group = self.config.n_group
        cond = self.upsample(mel.to(self.upsample.weight.dtype))[
            :, :, : mel.size(2) * self.hop_length
        ]
        cond = cond.view(cond.size(0), cond.size(1), -1, group).permute(0, 2, 1, 3)  # as unfold; exports
        return cond.reshape(cond.size(0), cond.size(1), -1).permute(0, 2, 1)

    def noise_shapes(self, batch: int, frames: int) -> list[tuple[int, int, int]]:
        """Shapes of the N(0, 1) draws of `infer`, in order: initial z, then one per early output."""
        length = frames * self.hop_length // self.config.n_group
        early = sum(self.has_early_output(k) for k in range(self.config.n_flows))
        return [(batch, self.config.n_remaining_channels, length)] + [
            (batch, self.config.n_early_size, length)
        ] * early

    def infer(
        self,
        mel: torch.Tensor,
        generator: Generators | float = None,
        *,
        sigma: float | None = None,
        noise: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """mel (B, n_mel, T) -> audio (B, 256 * T).

        Noise is drawn from `generator` (or one per row, `ttsfw.draws`) unless `noise` gives the N(0, 1) draws (shapes:
        `noise_shapes`); `sigma` (default: self.sigma) scales it. A number in the place of
        `generator` is sigma: ``infer(mel, 0.6)`` is the reference's call. With generator None
        the draws come from the global RNG, at sigma 0 too, as the reference makes them (a
        seeded script gives the reference's audio); a private generator is not drawn from at
        sigma 0.
        """
        if isinstance(generator, numbers.Real):  # the reference's infer(mel, sigma)
            if sigma is not None:
                raise TypeError(f"WaveGlow.infer got sigma twice: {generator} and sigma={sigma}")
            generator, sigma = None, generator
        if not (generator is None or isinstance(generator, torch.Generator) or draws.per_row(generator)):
            raise TypeError(
                f"WaveGlow.infer(mel, generator) takes a torch.Generator (or a list of them, one "
                f"per row), or sigma as a number (the reference's infer(mel, sigma)); got "
                f"{type(generator).__name__}"
            )
        sigma = self.sigma if sigma is None else float(sigma)
        cond = self.condition(mel)
        audio_dtype = self.convinv[0].W_inverse.dtype
        noises = self._noise(mel, sigma, generator, noise)
        audio = sigma * next(noises).to(cond.device, audio_dtype)
        for k in reversed(range(self.config.n_flows)):
            n_half = audio.size(1) // 2
            audio_0, audio_1 = audio[:, :n_half], audio[:, n_half:]
            output = self.WN[k](audio_0.to(cond.dtype), cond).to(audio_dtype)
            b, log_s = output[:, :n_half], output[:, n_half:]
            audio_1 = (audio_1 - b) / torch.exp(log_s)
            audio = self.convinv[k].inverse(torch.cat([audio_0, audio_1], 1))
            if self.has_early_output(k):
                audio = torch.cat([sigma * next(noises).to(cond.device, audio_dtype), audio], 1)
        return audio.permute(0, 2, 1).reshape(audio.size(0), -1)

    def _noise(
        self,
        mel: torch.Tensor,
        sigma: float,
        generator: Generators,
        noise: Sequence[torch.Tensor] | None,
    ) -> Iterator[torch.Tensor]:
        shapes = self.noise_shapes(mel.size(0), mel.size(2))
        if noise is not None:
            given = [tuple(z.shape) for z in noise]
            if given != shapes:
                raise ValueError(
                    f"noise must be {len(shapes)} tensors of shapes {shapes}, got {given}"
                )
            yield from noise
            return
        for shape in shapes:
            if sigma == 0 and generator is not None:
                yield torch.zeros(shape, device=mel.device)
            else:
                yield draws.randn(shape, generator, mel.device)

    def reference_state_dict(self, layout: str = "dle") -> dict[str, torch.Tensor]:
        """The weights as the reference code saves them (`reference_layout`: ``"dle"`` or ``"fused"``)."""
        return reference_layout(self.state_dict(), self.config.n_layers, layout)
