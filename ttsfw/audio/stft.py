"""The convolutional STFT of NVIDIA's Tacotron2/WaveGlow code, and Tacotron2 mel extraction.

`STFT` is a conv1d with a windowed Fourier basis (and a transposed conv for the inverse), as in
the reference; it differs from ``torch.stft`` by ~1e-5, so the WaveGlow denoiser uses it to
match the reference. `MelSpectrogram` is the reference ``TacotronSTFT.mel_spectrogram``: Slaney
mel filters (librosa's default, computed here in numpy) and natural log of clamp(x, 1e-5).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TINY = float(np.finfo(np.float32).tiny)


def fourier_basis(filter_length: int) -> np.ndarray:
    """Real rows then imaginary rows of the DFT matrix: (2 * (filter_length // 2 + 1), filter_length)."""
    dft = np.fft.fft(np.eye(filter_length))
    cutoff = filter_length // 2 + 1
    return np.vstack([np.real(dft[:cutoff]), np.imag(dft[:cutoff])])


def inverse_fourier_basis(filter_length: int, hop_length: int) -> np.ndarray:
    """``pinv(scale * fourier_basis).T`` with scale = filter_length / hop_length, in closed form.

    The half-spectrum basis F has F^T F = N/2 (I + (1 1^T + a a^T) / N) with a = (-1)^n, so its
    pseudo-inverse is F^T with weights 2/N per row, 1/N for the DC and Nyquist rows (the
    irfft weights); numpy's SVD-based pinv gives the same to 1e-17 but takes seconds.
    """
    basis = fourier_basis(filter_length)
    cutoff = filter_length // 2 + 1
    weights = np.full(2 * cutoff, 2.0 / filter_length)
    weights[[0, cutoff - 1]] = 1.0 / filter_length
    return basis * weights[:, None] / (filter_length / hop_length)


def hann_window(win_length: int, filter_length: int) -> np.ndarray:
    """Periodic Hann window zero-padded to the centre of `filter_length` samples, float64."""
    # scipy.signal.get_window("hann", N, fftbins=True), term by term (bitwise equal to it)
    phase = np.linspace(-np.pi, np.pi, win_length + 1)[:-1]
    window = np.full(win_length, 0.5) + 0.5 * np.cos(phase)
    left = (filter_length - win_length) // 2
    return np.pad(window, (left, filter_length - win_length - left))


class STFT(nn.Module):
    """Short-time Fourier transform by convolution (reflect-padded, centred frames).

    `transform`: audio (B, N) -> magnitude, phase (B, filter_length // 2 + 1, 1 + N // hop).
    `inverse`: magnitude, phase -> audio (B, N) (N a multiple of hop_length).
    """

    def __init__(self, filter_length: int = 1024, hop_length: int = 256, win_length: int = 1024):
        super().__init__()
        if win_length > filter_length:
            raise ValueError(
                f"win_length ({win_length}) must not exceed filter_length ({filter_length})"
            )
        self.filter_length, self.hop_length, self.win_length = filter_length, hop_length, win_length
        window = hann_window(win_length, filter_length)
        self.window_squared = window**2
        window = torch.from_numpy(window).float()
        forward = torch.from_numpy(fourier_basis(filter_length)[:, None, :]).float() * window
        inverse = torch.from_numpy(
            inverse_fourier_basis(filter_length, hop_length)[:, None, :].astype(np.float32)
        )
        self.register_buffer("forward_basis", forward, persistent=False)
        self.register_buffer("inverse_basis", inverse * window, persistent=False)

    def transform(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (B, N) -> magnitude, phase (B, filter_length // 2 + 1, 1 + N // hop_length)."""
        padding = self.filter_length // 2
        audio = F.pad(audio.unsqueeze(1), (padding, padding), mode="reflect")
        spectrum = F.conv1d(audio, self.forward_basis, stride=self.hop_length)
        real, imag = spectrum.chunk(2, dim=1)
        return torch.sqrt(real**2 + imag**2), torch.atan2(imag, real)

    def inverse(self, magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """magnitude, phase (B, filter_length // 2 + 1, frames) -> audio (B, (frames - 1) * hop)."""
        spectrum = torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)
        # as a 2-d transposed conv, like the reference: same maths, and bitwise its rounding on CPU
        audio = F.conv_transpose2d(
            spectrum.unsqueeze(-1), self.inverse_basis.unsqueeze(-1), stride=(self.hop_length, 1)
        ).squeeze(-1)
        window_sum = self.window_sumsquare(magnitude.size(-1))
        audio = audio / torch.where(window_sum > TINY, window_sum, 1.0)
        audio = audio * (float(self.filter_length) / self.hop_length)
        padding = self.filter_length // 2
        return audio[:, 0, padding:-padding]

    def window_sumsquare(self, frames: int) -> torch.Tensor:
        """Overlap-added squared window of `frames` frames: (filter_length + hop * (frames - 1),),
        on the STFT's device. Accumulated frame by frame in float32 from the float64 window,
        as the reference (librosa 0.6) does, so the rounding is the same."""
        hop = self.hop_length
        blocks = -(-self.filter_length // hop)  # frames overlapping one position
        squared = np.zeros(blocks * hop)
        squared[: self.filter_length] = self.window_squared
        acc = np.zeros((frames + blocks - 1, hop), dtype=np.float32)
        for q in reversed(range(blocks)):  # block b sums frames b - q, earliest frame first
            acc[q : q + frames] += squared[q * hop : (q + 1) * hop]
        total = self.filter_length + hop * (frames - 1)
        return torch.from_numpy(acc.reshape(-1)[:total]).to(self.forward_basis.device)


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    logarithmic = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, logarithmic, linear)


def slaney_mel_basis(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """Triangular Slaney-normalised mel filters (n_mels, n_fft // 2 + 1), float32.

    Same as ``librosa.filters.mel(sr=..., n_fft=..., n_mels=..., fmin=..., fmax=...)``
    (htk=False, norm='slaney'), computed in the same order so the float32 values agree.
    """
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    weights = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, np.newaxis]
    return weights


class MelSpectrogram(nn.Module):
    """Tacotron2 mel extraction (``TacotronSTFT``).

    audio (B, N) float in [-1, 1] -> natural-log mel (B, n_mel_channels, 1 + N // hop_length).
    """

    def __init__(
        self,
        sample_rate: int = 22050,
        filter_length: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mel_channels: int = 80,
        mel_fmin: float = 0.0,
        mel_fmax: float = 8000.0,
    ):
        super().__init__()
        self.sample_rate, self.hop_length, self.n_mel_channels = (
            sample_rate,
            hop_length,
            n_mel_channels,
        )
        self.stft = STFT(filter_length, hop_length, win_length)
        basis = slaney_mel_basis(sample_rate, filter_length, n_mel_channels, mel_fmin, mel_fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        low, high = float(audio.min()), float(audio.max())
        if low < -1.0 or high > 1.0:
            raise ValueError(
                f"audio must be float samples in [-1, 1], got values in [{low:.4g}, {high:.4g}]; "
                f"divide 16-bit PCM by 32768"
            )
        magnitude, _ = self.stft.transform(audio)
        return torch.log(torch.clamp(self.mel_basis @ magnitude, min=1e-5))


@functools.lru_cache(maxsize=None)
def _default_mel_spectrogram() -> MelSpectrogram:
    return MelSpectrogram()


def mel_spectrogram(audio: torch.Tensor) -> torch.Tensor:
    """audio (B, N) in [-1, 1] -> log mel (B, 80, 1 + N // 256) with the Tacotron2 defaults."""
    return _default_mel_spectrogram().to(audio.device)(audio)
