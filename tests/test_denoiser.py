"""WaveGlow bias denoiser: golden parity, stage contract, device locality, factories, and the
default pipeline (waveglow + waveglow_bias) end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from ttsfw.testing import TINY_TACOTRON2 as TINY_TACOTRON2_DIMS
from ttsfw import Pipeline
from ttsfw.errors import ConfigError
from ttsfw.builtins import no_denoiser as build_none
from ttsfw.components.waveglow.denoiser import WaveGlowDenoiser
from ttsfw.components.waveglow.factory import build_waveglow_bias
from ttsfw.components.waveglow.load import load_waveglow
from ttsfw.components.waveglow.model import WaveGlow, WaveGlowConfig
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext

TOLERANCE = 1e-4  # golden/README.md: denoiser bias_spec and denoised audio, WaveGlow audio
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def expected(golden):
    return torch.load(golden / "denoiser" / "denoiser.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def vocoder(golden):
    return load_waveglow(golden / "waveglow" / "ckpt_dle.pt")


@pytest.fixture(scope="module")
def denoiser(vocoder):
    return build_bias(vocoder, strength=0.01)


def build_bias(vocoder, **node):
    """The waveglow_bias denoiser through the registry, its node checked by the schema."""
    node = OmegaConf.create({"name": "waveglow_bias", "strength": 0.01, "mode": "zeros", **node})
    return get_registry().build("denoiser", node, BuildContext(vocoder=vocoder))


def test_bias_spectrum_matches_golden(denoiser, expected):
    assert denoiser.bias_spec.shape == (1, 513, 1)
    assert (denoiser.bias_spec - expected["bias_spec"]).abs().max() <= TOLERANCE


@pytest.mark.parametrize("strength", [0.01, 0.1])
def test_denoised_audio_matches_golden(denoiser, expected, strength):
    with torch.inference_mode():
        audio = denoiser(expected["audio_in"], strength)
    assert audio.shape == expected["audio_in"].shape  # (B, N): the reference's (B, 1, N) squeezed
    assert (audio - expected[f"denoised_{strength}"][:, 0]).abs().max() <= TOLERANCE


def test_strength_defaults_to_the_configured_one(denoiser, expected):
    assert denoiser.strength == 0.01
    with torch.inference_mode():
        assert torch.equal(denoiser(expected["audio_in"]), denoiser(expected["audio_in"], 0.01))


@pytest.fixture(scope="module")
def seeded_script():
    """NVIDIA's WaveGlow and Denoiser run as a seeded user script (tests/fixtures/README.md)."""
    return torch.load(FIXTURES / "waveglow_seeded_script.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def mel(golden):
    return torch.load(golden / "waveglow" / "io.pt", map_location="cpu", weights_only=True)["mel"]


@torch.inference_mode()
def test_a_seeded_script_gives_the_references_audio(vocoder, mel, seeded_script):
    torch.manual_seed(int(seeded_script["seed"]))
    WaveGlowDenoiser(vocoder)  # its sigma-0 pass draws from the global RNG, as the reference's
    audio = vocoder.infer(mel, sigma=0.6)
    assert (audio - seeded_script["audio"]).abs().max() <= TOLERANCE


@torch.inference_mode()
def test_normal_mode_takes_a_noise_mel_from_the_global_rng(vocoder, mel, seeded_script, expected):
    torch.manual_seed(int(seeded_script["seed"]))
    denoiser = WaveGlowDenoiser(vocoder, mode="normal")
    assert (denoiser.bias_spec - seeded_script["bias_spec_normal"]).abs().max() <= TOLERANCE
    assert (denoiser.bias_spec - expected["bias_spec"]).abs().max() > 1e-3  # not the zeros mel's
    audio = vocoder.infer(mel, 0.6)
    assert (audio - seeded_script["audio_after_normal"]).abs().max() <= TOLERANCE


def test_audio_of_a_frame_or_two_is_denoised_too(denoiser, expected):
    """The STFT's reflect padding needs over 512 samples: shorter audio is padded with silence
    and cut back (strength 0 gives it back, as for long audio; a strength takes something off)."""
    for length in (256, 512):
        audio = expected["audio_in"][:, :length]
        assert torch.allclose(denoiser(audio, strength=0.0), audio, atol=1e-4)
        denoised = denoiser(audio, strength=0.1)
        assert denoised.shape == audio.shape and (denoised - audio).abs().max() > 1e-3


def test_unknown_mode_is_refused(vocoder):
    with pytest.raises(ConfigError, match=r"denoiser mode must be 'zeros' or 'normal', got 'ones'"):
        WaveGlowDenoiser(vocoder, mode="ones")


def test_everything_is_built_on_the_vocoders_device():
    """On the meta device any tensor made on the CPU instead would fail to mix."""
    with torch.device("meta"):
        vocoder = WaveGlow(
            WaveGlowConfig(n_mel_channels=8, n_flows=4, n_early_every=2, n_layers=2, n_channels=4)
        )
    denoiser = WaveGlowDenoiser(vocoder)
    assert {buffer.device.type for buffer in denoiser.buffers()} == {"meta"}
    assert denoiser(torch.zeros(2, 5120, device="meta"), 0.1).shape == (2, 5120)


def test_registered_names():
    registry = get_registry()
    assert registry.get("denoiser", "waveglow_bias").load() is build_waveglow_bias
    assert registry.get("denoiser", "none").load() is build_none
    assert build_none({"name": "none"}, BuildContext()) is None


def test_needs_a_waveglow_vocoder(vocoder):
    with pytest.raises(
        ConfigError,
        match=r"denoiser=waveglow_bias needs vocoder=waveglow \(the vocoder is NoneType\); use denoiser=none",
    ):
        build_bias(None)
    with pytest.raises(ConfigError, match=r"denoiser.strength must be >= 0 \(got -0.5\)"):
        build_bias(vocoder, strength=-0.5)
    with pytest.raises(ConfigError, match=r"denoiser mode must be 'zeros' or 'normal', got 'ones'"):
        build_bias(vocoder, mode="ones")


TINY_TACOTRON2 = [
    *TINY_TACOTRON2_DIMS,
    "acoustic.max_decoder_steps=12",
    "acoustic.gate_threshold=1.0",
    "acoustic.prenet_dropout=false",  # never stops: 12 frames
]


@pytest.mark.filterwarnings("ignore::ttsfw.stages.MaxDecoderStepsWarning")
@pytest.mark.filterwarnings("ignore:utterance 1 reached max_decoder_steps")
def test_waveglow_pipeline_runs_its_denoiser_by_default(golden):
    checkpoint = golden / "waveglow" / "ckpt_dle.pt"
    tts = Pipeline.from_overrides(
        [*TINY_TACOTRON2, "vocoder=waveglow", f"vocoder.checkpoint={checkpoint}"]
    )
    assert isinstance(tts.vocoder, WaveGlow) and isinstance(tts.denoiser, WaveGlowDenoiser)
    assert tts.denoiser.strength == 0.01
    audio = tts.synthesize(["Hello."]).audio[0]
    assert audio.shape == (12 * 256,)
    plain = Pipeline.from_overrides(
        [*TINY_TACOTRON2, "vocoder=waveglow", f"vocoder.checkpoint={checkpoint}", "denoiser=none"]
    )
    assert plain.denoiser is None
    assert not (
        plain.synthesize(["Hello."]).audio[0] == audio
    ).all()  # same seed: the denoiser changed it
