"""Griffin-Lim vocoder: mel inversion, phase recovery, config errors, registration."""

from __future__ import annotations

import pytest
import torch

from ttsfw.audio.stft import MelSpectrogram
from ttsfw.config import compose_config
from ttsfw.errors import ConfigError
from ttsfw.components.griffinlim.model import GriffinLim
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext


@pytest.fixture(scope="module")
def stft_golden(golden):
    return torch.load(golden / "denoiser" / "stft_mel.pt", map_location="cpu", weights_only=True)


def mel_error(vocoder: GriffinLim, mel: torch.Tensor) -> float:
    """Mean abs log-mel difference between `mel` and the mel of the vocoder's audio."""
    audio = vocoder.infer(mel, torch.Generator().manual_seed(0))
    again = MelSpectrogram()(audio)[..., : mel.shape[-1]]
    return (again - mel).abs().mean().item()


def test_mel_inversion_recovers_magnitudes(stft_golden):
    magnitude = GriffinLim().magnitudes(stft_golden["mel"])
    assert magnitude.shape == stft_golden["magnitude"].shape
    assert (magnitude > 0).all()
    # pinv is a right inverse of the basis; only clamping its negative lobes moves the mel
    remelled = torch.log((stft_golden["mel_basis"] @ magnitude).clamp(min=1e-5))
    error = (remelled - stft_golden["mel"]).abs()
    assert error.mean() < 0.02 and (error > 0.1).float().mean() < 0.05


def test_output_shape_range_and_seeded_determinism(stft_golden):
    mel = stft_golden["mel"]  # (2, 80, 32)
    vocoder = GriffinLim(n_iter=4)
    first = vocoder.infer(mel, torch.Generator().manual_seed(7))
    again = vocoder.infer(mel, torch.Generator().manual_seed(7))
    assert first.shape == (2, 32 * 256)
    assert first.abs().max() <= 1.0
    assert torch.equal(first, again)


def test_iterations_make_the_audio_consistent_with_the_mel(stft_golden):
    mel = stft_golden["mel"]
    one, many = mel_error(GriffinLim(n_iter=1), mel), mel_error(GriffinLim(n_iter=32), mel)
    assert many < 0.6 * one
    assert many < 0.4  # natural-log units


def test_classic_algorithm_without_momentum(stft_golden):
    assert mel_error(GriffinLim(n_iter=16, momentum=0.0), stft_golden["mel"]) < mel_error(
        GriffinLim(n_iter=1), stft_golden["mel"]
    )


@pytest.mark.parametrize(
    "option, message",
    [
        ({"n_iter": 0}, "vocoder.n_iter must be >= 1"),
        ({"momentum": 1.0}, r"vocoder.momentum must be in \[0, 1\)"),
    ],
)
def test_bad_options_are_config_errors(option, message):
    with pytest.raises(ConfigError, match=message):
        GriffinLim(**option)


def test_registered_and_built_from_its_config_file():
    full, _ = compose_config(["vocoder=griffinlim", "vocoder.n_iter=3"])
    assert full.denoiser.name == "none"  # the WaveGlow bias denoiser needs WaveGlow
    cfg = full.vocoder
    vocoder = get_registry().build("vocoder", cfg, BuildContext())
    assert isinstance(vocoder, GriffinLim)
    assert (vocoder.n_iter, vocoder.sample_rate, vocoder.hop_length) == (3, 22050, 256)
    assert vocoder.state_dict() == {}  # nothing to download or load


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_short_mels_are_vocoded(frames):
    audio = GriffinLim(n_iter=2).infer(torch.full((2, 80, frames), -5.0))
    assert audio.shape == (2, frames * 256) and torch.isfinite(audio).all()
