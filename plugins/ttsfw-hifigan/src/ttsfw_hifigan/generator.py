"""The HiFi-GAN generator (Kong, Kim, Bae 2020), weight-compatible with jik876/hifi-gan.

Weight norm is folded: every conv holds a plain ``weight`` (``checkpoint.load_weights`` folds
the ``weight_g``/``weight_v`` of jik876's files). Module names are the reference's, so a
folded state dict has the reference's keys minus the ``_g``/``_v`` suffixes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ttsfw import Vocoder
from ttsfw.errors import ConfigError, TTSError

from .channels_last import Conv1d, ConvTranspose1d, from_channels_last, to_channels_last, wants_channels_last

if TYPE_CHECKING:
    from .stream import GeneratorStream

LRELU_SLOPE = 0.1


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps the length of a stride-1 conv."""
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """Per dilation d: x += conv2(lrelu(conv1_d(lrelu(x)))).  (B, C, T) -> (B, C, T), or
    (B, C, 1, T) channels-last -> the same."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            Conv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            Conv1d(channels, channels, kernel_size, padding=same_padding(kernel_size))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2):
            xt = conv1(F.leaky_relu(x, LRELU_SLOPE))
            x = conv2(F.leaky_relu(xt, LRELU_SLOPE)) + x
        return x


class ResBlock2(nn.Module):
    """Per dilation d: x += conv_d(lrelu(x)) (the lighter block of V3).  (B, C, T) -> (B, C, T),
    or (B, C, 1, T) channels-last -> the same."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()
        self.convs = nn.ModuleList(
            Conv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(F.leaky_relu(x, LRELU_SLOPE)) + x
        return x


RESBLOCKS: dict[str, type[nn.Module]] = {"1": ResBlock1, "2": ResBlock2}


def _reach(conv: nn.Conv1d) -> float:
    """Samples a 'same'-padded conv reaches to each side: (kernel - 1) * dilation / 2."""
    return (conv.kernel_size[0] - 1) * conv.dilation[0] / 2


class Generator(Vocoder):
    """Mel (B, 80, T) -> audio (B, 1, T * prod(upsample_rates)) in [-1, 1].

    conv_pre, then per upsampling stage: lrelu, transposed conv (x rate, channels halved) and
    a multi-receptive-field fusion (MRF: the mean of one resblock per kernel size); then
    lrelu (slope 0.01), conv_post and tanh. On a CPU the layers run on (B, C, 1, T)
    channels-last tensors (`channels_last.py`: the same weights, 2-3x faster).
    """

    def __init__(
        self,
        resblock: str | int,
        upsample_rates: Sequence[int],
        upsample_kernel_sizes: Sequence[int],
        upsample_initial_channel: int,
        resblock_kernel_sizes: Sequence[int],
        resblock_dilation_sizes: Sequence[Sequence[int]],
        n_mel_channels: int = 80,
        sample_rate: int = 22050,
    ):
        super().__init__()
        resblock = str(resblock)  # jik876 compares with the string "1"; YAML may give an int
        if resblock not in RESBLOCKS:
            raise ConfigError(f"vocoder.resblock must be '1' or '2', not {resblock!r}")
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ConfigError("vocoder.upsample_rates and vocoder.upsample_kernel_sizes differ in length")
        self.n_mel_channels = n_mel_channels
        self.sample_rate = sample_rate
        self.hop_length = math.prod(upsample_rates)
        self.num_kernels = len(resblock_kernel_sizes)

        channels = [upsample_initial_channel // 2**i for i in range(len(upsample_rates) + 1)]
        self.conv_pre = Conv1d(n_mel_channels, channels[0], 7, padding=3)
        self.ups = nn.ModuleList(
            ConvTranspose1d(channels[i], channels[i + 1], k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes))
        )
        self.resblocks = nn.ModuleList(
            RESBLOCKS[resblock](ch, k, d)
            for ch in channels[1:]
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes)
        )
        self.conv_post = Conv1d(channels[-1], 1, 7, padding=3)

    @property
    def context_frames(self) -> tuple[int, int]:
        """The receptive field in mel frames (`Vocoder.context_frames`), from the layers: a
        conv of kernel k and dilation d reaches (k - 1) * d / 2 samples to each side at its
        rate, a transposed conv (k, stride u, padding p) (k - 1 - p) / u input samples back and
        p / u ahead; resblocks in one stage run side by side (the widest counts), stages one
        after another."""
        back = ahead = _reach(self.conv_pre)  # in frames: conv_pre runs at one sample per frame
        rate = 1
        for i, up in enumerate(self.ups):
            (k,), (u,), (p,) = up.kernel_size, up.stride, up.padding
            back, ahead, rate = back + (k - 1 - p) / (u * rate), ahead + p / (u * rate), rate * u
            mrf = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            reach = max(sum(_reach(c) for c in block.modules() if isinstance(c, nn.Conv1d)) for block in mrf)
            back, ahead = back + reach / rate, ahead + reach / rate
        post = _reach(self.conv_post) / rate
        return math.ceil(back + post), math.ceil(ahead + post)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(to_channels_last(mel) if wants_channels_last(mel) else mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            mrf = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in mrf) / self.num_kernels
        x = F.leaky_relu(x)  # the reference's default slope 0.01 here, not LRELU_SLOPE
        return torch.tanh(from_channels_last(self.conv_post(x)))

    def stream(self) -> "GeneratorStream":
        """A stream of this generator: mel pushed frames at a time -> its audio, every sample
        made once (`stream.py`)."""
        from .stream import GeneratorStream

        return GeneratorStream(self)

    def remove_weight_norm(self) -> None:
        """Nothing to remove: the weights are folded when loaded. Kept so that code written
        for jik876's generator (``generator.eval(); generator.remove_weight_norm()``) runs."""

    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel (B, 80, T) -> audio (B, T * hop_length). Deterministic: `generator` is unused."""
        if mel.dim() != 3 or mel.shape[1] != self.n_mel_channels:
            raise TTSError(
                f"HiFi-GAN expects a mel of shape (batch, {self.n_mel_channels}, frames), got "
                f"{tuple(mel.shape)}; add a batch dim or transpose (frames, mels) input"
            )
        return self(mel).squeeze(1)


class GeneratorGraph(nn.Module):
    """The generator as ``python -m ttsfw export`` writes it: mel (B, n_mel, T) -> audio
    (B, T * hop_length), as ``Generator.infer``."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.generator(mel).squeeze(1)
