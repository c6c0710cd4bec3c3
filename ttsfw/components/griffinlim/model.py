"""Griffin-Lim vocoder: no weights, so a voice can speak without downloading a neural vocoder.

Mel -> linear magnitude through the pseudo-inverse of the Slaney mel basis (the basis the
Tacotron2 mels are made with), then phase recovery by the fast Griffin-Lim iteration
(Perraudin, Balazs & Sondergaard 2013: Griffin-Lim with momentum) on a torch STFT.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf

from ... import draws
from ...draws import Generators
from ...audio.stft import slaney_mel_basis
from ...errors import ConfigError
from ...stages import Vocoder


class GriffinLim(Vocoder):
    """Natural-log mel (B, n_mel, T) -> audio (B, T * hop_length) by iterative phase recovery.

    `power` sharpens the magnitudes before phase recovery (1.0 = as predicted; 1.2-1.5 lowers
    the buzz Griffin-Lim adds to smeared spectra). `momentum` 0 is the classic algorithm.
    """

    def __init__(
        self,
        n_iter: int = 32,
        momentum: float = 0.99,
        power: float = 1.0,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mel_channels: int = 80,
        mel_fmin: float = 0.0,
        mel_fmax: float = 8000.0,
    ) -> None:
        super().__init__()
        if n_iter < 1:
            raise ConfigError(f"vocoder.n_iter must be >= 1 (got {n_iter}); 32 is a good default")
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(
                f"vocoder.momentum must be in [0, 1) (got {momentum}); 0.99 is a good default"
            )
        self.n_iter, self.momentum, self.power = n_iter, momentum, power
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mel_channels = n_mel_channels
        basis = torch.from_numpy(
            slaney_mel_basis(sample_rate, n_fft, n_mel_channels, mel_fmin, mel_fmax)
        )
        self.register_buffer(
            "inverse_basis", torch.linalg.pinv(basis.double()).float(), persistent=False
        )
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    @property
    def context_frames(self) -> tuple[int, int]:
        """Not a receptive field (the iterations spread phase over the whole window): the
        context that keeps a stream's seams within the bound docs/streaming.md states, two
        STFT windows to each side."""
        reach = 2 * -(-self.n_fft // self.hop_length)
        return reach, reach

    def magnitudes(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel (B, n_mel, T) -> linear magnitudes (B, n_fft // 2 + 1, T), >= 0."""
        return (self.inverse_basis @ mel.float().exp()).clamp(min=1e-10) ** self.power

    def _stft(self, audio: torch.Tensor, frames: int) -> torch.Tensor:
        spec = torch.stft(
            audio, self.n_fft, self.hop_length, window=self.window, return_complex=True
        )
        return spec[..., :frames]

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.n_fft, self.hop_length, window=self.window, length=length)

    def infer(self, mel: torch.Tensor, generator: Generators = None) -> torch.Tensor:
        """mel (B, n_mel, T) -> audio (B, T * hop_length) in [-1, 1]; `generator` draws the
        initial phases."""
        length = mel.shape[-1] * self.hop_length
        # torch.stft's reflect padding needs more than n_fft / 2 samples: pad very short mels
        # with silent frames and cut their audio off again at the end
        short = max(0, -(-self.n_fft // self.hop_length) - mel.shape[-1])
        magnitude = torch.nn.functional.pad(self.magnitudes(mel), (0, short))
        frames = magnitude.shape[-1]
        padded_length = frames * self.hop_length
        phase = draws.rand(magnitude.shape, generator).to(mel.device)
        angles = torch.polar(torch.ones_like(magnitude), 2 * torch.pi * phase)
        previous = torch.zeros_like(angles)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(magnitude * angles, padded_length), frames)
            accelerated = rebuilt - self.momentum / (1 + self.momentum) * previous
            angles = accelerated / accelerated.abs().clamp(min=1e-16)
            previous = rebuilt
        return self._istft(magnitude * angles, padded_length)[..., :length].clamp(-1.0, 1.0)


def build_griffinlim(cfg: DictConfig, context) -> GriffinLim:
    params = OmegaConf.to_container(cfg, resolve=True)
    params.pop("name")
    return GriffinLim(**params)
