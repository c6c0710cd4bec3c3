"""WaveGlow bias removal (NVIDIA's ``Denoiser``): subtract, in the STFT magnitude, what the
vocoder outputs for an all-zeros mel at sigma 0, and resynthesise with the original phase.

``denoiser=waveglow_bias`` builds it from the pipeline's vocoder.
"""

from __future__ import annotations

import torch

from ...audio.stft import STFT
from ...stages import Denoiser
from .model import WaveGlow


class WaveGlowDenoiser(Denoiser):
    """audio (B, N) -> audio (B, N) with the vocoder's bias spectrum times `strength` removed.

    `bias_spec` (1, filter_length // 2 + 1, 1) is the magnitude of the first STFT frame of
    ``vocoder.infer(zeros(1, n_mel, 88), sigma=0)``. Built on the vocoder's device.
    """

    def __init__(
        self,
        vocoder: WaveGlow,
        strength: float = 0.01,
        filter_length: int = 1024,
        n_overlap: int = 4,
        win_length: int = 1024,
    ):
        super().__init__()
        self.strength = strength
        device = next(vocoder.parameters()).device
        self.stft = STFT(filter_length, filter_length // n_overlap, win_length).to(device)
        mel = torch.zeros(1, vocoder.n_mel_channels, 88, device=device)
        with torch.no_grad():
            bias_audio = vocoder.infer(mel, sigma=0.0).float()
            bias_spec, _ = self.stft.transform(bias_audio)
        self.register_buffer("bias_spec", bias_spec[:, :, :1])

    def forward(self, audio: torch.Tensor, strength: float | None = None) -> torch.Tensor:
        """audio (B, N), N a multiple of the hop (256) -> denoised float audio (B, N).
        `strength` defaults to the configured one."""
        strength = self.strength if strength is None else strength
        magnitude, phase = self.stft.transform(audio.float())
        magnitude = torch.clamp(magnitude - self.bias_spec * strength, min=0.0)
        return self.stft.inverse(magnitude, phase)

