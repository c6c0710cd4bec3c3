"""The shipped voice (voice=joe) and the NVIDIA LJSpeech voice (voice=nvidia_ljspeech)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from ttsfw import Pipeline
from ttsfw.weights.store import resolve_checkpoint
from ttsfw.config import compose_config
from ttsfw.errors import CheckpointError
from ttsfw.voices import VOICES_DIR, shipped_path


def select(voice: str) -> str:
    """`voice=NAME` once conf/config.yaml has a voice default, `+voice=NAME` before."""
    return f"voice={voice}" if "voice" in compose_config()[1] else f"+voice={voice}"


def test_shipped_weights_are_small_fp16_tensors_with_their_config():
    path = shipped_path("ttsfw_joe")
    assert path == VOICES_DIR / "joe_tacotron2.pt" and path.stat().st_size <= 20 * 2**20
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["config"]["decoder_rnn_dim"] == 512
    assert {t.dtype for t in checkpoint["state_dict"].values() if t.is_floating_point()} == {
        torch.float16
    }
    assert (VOICES_DIR / "PROVENANCE.md").read_text().count("CC0") >= 2
    assert shipped_path("nvidia_tacotron2pyt_fp32_20190427") is None


def test_the_shipped_voice_name_resolves_to_the_packaged_file():
    assert resolve_checkpoint("ttsfw_joe") == shipped_path("ttsfw_joe")


@pytest.mark.parametrize(
    "voice, stages",
    [
        ("joe", ("english", "tacotron2", "griffinlim", "none")),
        ("nvidia_ljspeech", ("english", "tacotron2", "waveglow", "waveglow_bias")),
    ],
)
def test_voices_choose_every_stage(voice, stages):
    _, choices = compose_config([select(voice)])
    assert tuple(choices[g] for g in ("frontend", "acoustic", "vocoder", "denoiser")) == stages


def test_the_shipped_voice_speaks_long_sentences_clause_by_clause():
    """Trained on sentences of up to 84 characters, joe sets max_chars; the command line wins."""
    assert compose_config([select("joe")])[0].max_chars == 70
    assert compose_config([select("joe"), "max_chars=250"])[0].max_chars == 250
    assert compose_config([select("nvidia_ljspeech")])[0].max_chars == 250


def test_a_voice_stage_can_still_be_overridden():
    cfg, choices = compose_config([select("joe"), "vocoder=waveglow"])
    assert (cfg.acoustic.checkpoint, choices["vocoder"], choices["denoiser"]) == (
        "ttsfw_joe",
        "waveglow",
        "waveglow_bias",
    )


def test_nvidia_voice_says_how_to_download_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TTSFW_CACHE", str(tmp_path))
    with pytest.raises(
        CheckpointError, match=r"run `python -m ttsfw download nvidia_tacotron2pyt_fp32_20190427`"
    ):
        Pipeline.from_overrides([select("nvidia_ljspeech")])


def test_the_shipped_voice_speaks_a_short_sentence():
    tts = Pipeline.from_overrides([select("joe"), "vocoder.n_iter=8", "seed=1"])
    result = tts.synthesize(["Hello there, how are you?"])
    utterance = result.utterances[0]
    assert result.sample_rate == 22050
    assert not utterance.hit_max_decoder_steps
    assert 0.8 < utterance.seconds < 4.0  # ~6 words at 2-4 words per second, plus silence
    assert 0.01 < float(abs(utterance.audio).max()) <= 1.0


@pytest.fixture(scope="module")
def wer_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "wer.py"
    spec = importlib.util.spec_from_file_location("wer_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wer_references_are_spoken_words(wer_script):
    assert wer_script.words("Mr. Oswald, in 1963, paid $5.") == (
        "mister oswald in nineteen sixty three paid five dollars".split()
    )


@pytest.mark.parametrize(
    "ref, hyp, distance",
    [("a b c", "a b c", 0), ("a b c", "a c", 1), ("a b c", "a x c d", 2), ("a b", "", 2)],
)
def test_wer_edit_distance(wer_script, ref, hyp, distance):
    assert wer_script.edit_distance(ref.split(), hyp.split()) == distance


def test_the_config_leaves_sizes_to_the_checkpoint_and_metrics_show_the_built_model():
    """--cfg job must not claim NVIDIA's full-size defaults for a file that overrides them."""
    cfg, _ = compose_config([select("joe")])
    assert cfg.acoustic.n_frames_per_step is None and cfg.acoustic.attention_rnn_dim is None
    built = Pipeline.from_overrides([select("joe")]).models()["acoustic"]
    assert built["class"] == "ttsfw.components.tacotron2.model.Tacotron2"
    assert built["architecture"]["n_frames_per_step"] == 2  # read from the shipped file
    assert built["architecture"]["attention_rnn_dim"] == 512
    assert built["parameters"] == 7_339_473


def test_random_weights_without_sizes_are_nvidias_full_size_model():
    cfg, _ = compose_config(["acoustic.checkpoint=random", "vocoder=waveglow", "vocoder.checkpoint=random"])
    from ttsfw.components.tacotron2.model import Tacotron2Config
    from ttsfw.components.waveglow.model import WaveGlowConfig

    acoustic = {k: v for k, v in cfg.acoustic.items() if k in Tacotron2Config.__dataclass_fields__}
    vocoder = {k: v for k, v in cfg.vocoder.items() if k in WaveGlowConfig.__dataclass_fields__}
    assert Tacotron2Config.from_mapping(acoustic).architecture()["attention_rnn_dim"] == 1024
    assert WaveGlowConfig.from_mapping(vocoder).n_channels == 512
