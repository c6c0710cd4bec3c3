"""ONNX forms of the built-in WaveGlow and its bias denoiser (what ``ttsfw_onnx_module``
returns for them; a plugin's vocoder answers the same hook, see docs/hooks.md).

``waveglow.onnx`` takes the noise as inputs, already scaled by sigma, so a run stays
reproducible: the runtime draws it from the run's generator exactly as the torch model does.
``denoiser.onnx`` computes its STFT by convolution (NVIDIA's, as the torch denoiser), so it
needs no STFT operator and exports at any opset.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ...audio.stft import STFT
from ..waveglow.denoiser import WaveGlowDenoiser
from ..waveglow.model import WaveGlow


class WaveGlowGraph(nn.Module):
    """mel (B, n_mel, T), noise_k (B, C_k, T * hop / n_group) = sigma * N(0, 1) in the order
    of ``noise_shapes`` -> audio (B, T * hop)."""

    def __init__(self, waveglow: WaveGlow):
        super().__init__()
        self.waveglow = waveglow
        self.sigma = waveglow.sigma

    def noise_shapes(self, batch: int, frames: int) -> list[tuple[int, int, int]]:
        return self.waveglow.noise_shapes(batch, frames)

    def forward(self, mel: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        return self.waveglow.infer(mel, sigma=1.0, noise=noise)  # the noise comes scaled


class GraphSTFT(STFT):
    """The convolutional STFT with its overlap-added squared window computed in the graph
    (a transposed convolution of ones), so that one graph serves every length."""

    def __init__(self, stft: STFT):
        super().__init__(stft.filter_length, stft.hop_length, stft.win_length)
        squared = torch.from_numpy(self.window_squared).float()
        self.register_buffer("window_squared_kernel", squared.view(1, 1, -1), persistent=False)

    def window_sumsquare(self, frames: Any) -> torch.Tensor:
        """(filter_length + hop * (frames - 1),) for `frames` frames (a traced size)."""
        ones = torch.ones(1, 1, frames, device=self.window_squared_kernel.device)
        return F.conv_transpose1d(ones, self.window_squared_kernel, stride=self.hop_length)[0, 0]


class DenoiserGraph(nn.Module):
    """audio (B, N), strength (1,) -> denoised audio (B, N) (``WaveGlowDenoiser.forward``)."""

    def __init__(self, denoiser: WaveGlowDenoiser):
        super().__init__()
        self.denoiser = copy.deepcopy(denoiser)
        self.denoiser.stft = GraphSTFT(denoiser.stft)
        self.strength = denoiser.strength

    def forward(self, audio: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        return self.denoiser(audio, strength)


def builtin_module(stage: str, component: Any) -> nn.Module | None:
    """The ONNX form of a built-in vocoder or denoiser, or None for another component."""
    if stage == "vocoder" and isinstance(component, WaveGlow):
        return WaveGlowGraph(component)
    if stage == "denoiser" and isinstance(component, WaveGlowDenoiser):
        return DenoiserGraph(component)
    return None
