"""WaveGlow bias removal (NVIDIA's ``Denoiser``): subtract, in the STFT magnitude, what the
vocoder outputs for an all-zeros (or a noise) mel at sigma 0, and resynthesise with the
original phase.

``denoiser=waveglow_bias`` builds it from the pipeline's vocoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...audio.stft import STFT
from ...errors import ConfigError
from ...stages import Denoiser
from .model import WaveGlow

#: the mel whose audio is taken as the bias (NVIDIA's ``mode``): all zeros, or N(0, 1) noise
MODES = ("zeros", "normal")


class WaveGlowDenoiser(Denoiser):
    """audio (B, N) -> audio (B, N) with the vocoder's bias spectrum times `strength` removed.

    `bias_spec` (1, filter_length // 2 + 1, 1) is the magnitude of the first STFT frame of
    ``vocoder.infer(mel, sigma=0)`` for a (1, n_mel, 88) `mode` mel: ``zeros``, or ``normal``
    (N(0, 1)). Built on the vocoder's device. As NVIDIA's ``Denoiser``, building it draws from
    the global RNG (the ``normal`` mel, the vocoder's sigma-0 pass).
    """

    def __init__(
        self,
        vocoder: WaveGlow,
        strength: float = 0.01,
        filter_length: int = 1024,
        n_overlap: int = 4,
        win_length: int = 1024,
        mode: str = "zeros",
    ):
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"denoiser mode must be 'zeros' or 'normal', got {mode!r}")
        self.strength = strength
        self.hop_length = vocoder.hop_length  # of the audio it denoises: its stream context is in frames
        weight = vocoder.upsample.weight
        self.stft = STFT(filter_length, filter_length // n_overlap, win_length).to(weight.device)
        draw = torch.zeros if mode == "zeros" else torch.randn
        mel = draw(1, vocoder.n_mel_channels, 88, dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            bias_audio = vocoder.infer(mel, sigma=0.0).float()
            bias_spec, _ = self.stft.transform(bias_audio)
        self.register_buffer("bias_spec", bias_spec[:, :, :1])

    @property
    def context_frames(self) -> tuple[int, int]:
        """An output sample depends on the STFT frames over it, each filter_length wide: a
        filter_length of audio to each side, in mel frames of the vocoder's hop."""
        reach = -(-self.stft.filter_length // self.hop_length)
        return reach, reach

    def forward(self, audio: torch.Tensor, strength: float | None = None) -> torch.Tensor:
        """audio (B, N), N a multiple of the hop (256) -> denoised float audio (B, N).
        `strength` defaults to the configured one."""
        strength = self.strength if strength is None else strength
        length = audio.size(-1)
        # the STFT's reflect padding needs more than filter_length / 2 samples: a shorter audio
        # (an utterance of a frame or two) is padded with silence and cut back
        short = max(0, self.stft.filter_length // 2 + 1 - length)
        magnitude, phase = self.stft.transform(F.pad(audio.float(), (0, short)))
        magnitude = torch.clamp(magnitude - self.bias_spec * strength, min=0.0)
        return self.stft.inverse(magnitude, phase)[..., :length]

