"""Conv STFT and Tacotron2 mel extraction: golden parity, the closed-form inverse basis, the
reference's window envelope, round trip and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import get_window

from ttsfw.audio.stft import (
    STFT,
    MelSpectrogram,
    fourier_basis,
    hz_to_mel,
    inverse_fourier_basis,
    mel_spectrogram,
    mel_to_hz,
)

TOLERANCE = 1e-4  # golden/README.md: TacotronSTFT log-mel


@pytest.fixture(scope="module")
def stft_mel(golden):
    return torch.load(golden / "denoiser" / "stft_mel.pt", map_location="cpu", weights_only=True)


def test_mel_basis_matches_librosa_slaney(stft_mel):
    basis = MelSpectrogram().mel_basis
    assert basis.shape == (80, 513) and basis.dtype == torch.float32
    assert (basis - stft_mel["mel_basis"]).abs().max() <= 1e-7


def test_magnitude_and_log_mel_match_golden(stft_mel):
    extractor = MelSpectrogram()
    magnitude, phase = extractor.stft.transform(stft_mel["wave"])
    assert magnitude.shape == phase.shape == (2, 513, 32)
    assert (magnitude - stft_mel["magnitude"]).abs().max() <= TOLERANCE
    mel = extractor(stft_mel["wave"])
    assert mel.shape == (2, 80, 1 + 8000 // 256)
    assert (mel - stft_mel["mel"]).abs().max() <= TOLERANCE
    assert torch.equal(mel_spectrogram(stft_mel["wave"]), mel)
    assert mel.min() == pytest.approx(np.log(1e-5))  # the digital silence is clamped


def test_inverse_basis_closed_form_equals_pinv():
    basis = fourier_basis(64)
    np.testing.assert_allclose(
        inverse_fourier_basis(64, 16), np.linalg.pinv(64 / 16 * basis).T, atol=1e-14
    )


@pytest.mark.parametrize(
    "filter_length, hop, win, frames", [(1024, 256, 1024, 21), (1000, 300, 800, 5)]
)
def test_window_sumsquare_rounds_like_the_reference(filter_length, hop, win, frames):
    """librosa 0.6's loop: float32 envelope += float64 squared window, frame by frame."""
    n = filter_length + hop * (frames - 1)
    expected = np.zeros(n, dtype=np.float32)
    window = get_window("hann", win, fftbins=True) ** 2
    left = (filter_length - win) // 2
    window = np.pad(window, (left, filter_length - win - left))
    for i in range(frames):
        start = i * hop
        expected[start : min(n, start + filter_length)] += window[
            : max(0, min(filter_length, n - start))
        ]
    assert np.array_equal(STFT(filter_length, hop, win).window_sumsquare(frames).numpy(), expected)


@pytest.mark.parametrize("filter_length, hop, win", [(1024, 256, 1024), (800, 200, 600)])
def test_inverse_reconstructs_the_signal(filter_length, hop, win):
    stft = STFT(filter_length, hop, win)
    audio = torch.rand(2, 20 * hop, generator=torch.Generator().manual_seed(0)) * 2 - 1
    magnitude, phase = stft.transform(audio)
    assert magnitude.shape == (2, filter_length // 2 + 1, 21)
    assert (stft.inverse(magnitude, phase) - audio).abs().max() < 1e-5


def test_slaney_scale():
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(500.0) == pytest.approx(7.5)  # linear below 1 kHz
    hz = np.array([0.0, 300.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-9)


def test_out_of_range_audio_is_refused():
    with pytest.raises(
        ValueError,
        match=r"audio must be float samples in \[-1, 1\], got values in \[-3, 2\]; divide 16-bit PCM by 32768",
    ):
        MelSpectrogram()(torch.tensor([[0.0, 2.0, -3.0] * 100]))


def test_window_longer_than_filter_is_refused():
    with pytest.raises(
        ValueError, match=r"win_length \(2048\) must not exceed filter_length \(1024\)"
    ):
        STFT(1024, 256, 2048)
