"""The shipped voice (voice=joe) and the NVIDIA LJSpeech voice (voice=nvidia_ljspeech)."""

from __future__ import annotations

import importlib.util
import sys
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
    assert compose_config([select("joe")])[0].acoustic.max_frames_per_symbol == 7.0  # a budget
    assert compose_config([select("nvidia_ljspeech")])[0].acoustic.max_frames_per_symbol is None
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


def test_the_shipped_voice_stops_on_the_unseen_sentence_it_babbled_on():
    """LJ Speech test line 125 (LJ006-0082): split at 70 characters it left a fragment ending
    in a bare word ("... to select as") that never stopped, 54.7 s of audio where the teacher
    (Piper joe) speaks it in 7.0 s. Now the fragment ends in a full stop and the frame budget
    caps every piece."""
    text = (
        "and this particular official took excellent care to select as residents for his own "
        "ward those most suitable from his own point of view."
    )
    tts = Pipeline.from_overrides([select("joe"), "vocoder.n_iter=4", "seed=1"])
    utterance = tts.synthesize([text]).utterances[0]
    assert not utterance.hit_max_decoder_steps
    assert 7.0 / 1.5 < utterance.seconds < 7.0 * 1.5


@pytest.fixture(scope="module")
def wer_script():
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    if str(scripts) not in sys.path:  # wer.py imports listeners.py beside it, as when run as a script
        sys.path.insert(0, str(scripts))
    spec = importlib.util.spec_from_file_location("wer_script", scripts / "wer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wer_references_are_spoken_words(wer_script):
    assert wer_script.words("Mr. Oswald, in 1963, paid $5.") == (
        "mister oswald in nineteen sixty three paid five dollars".split()
    )


def test_wer_speaks_the_val_split_for_choosing_and_the_test_split_for_scoring(wer_script, monkeypatch, capsys):
    """`--split val` picks checkpoints on sentences that share none with the test split (nor
    with the training split the teacher corpus is made of); no other split is spoken."""
    def utterances(path):
        return {line.split("|", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()}

    val, test = utterances(wer_script.SPLITS["val"]), utterances(wer_script.SPLITS["test"])
    train = utterances(wer_script.REPO / "recipes" / "teacher" / "train.txt")
    assert sorted(wer_script.SPLITS) == ["test", "val"] and (len(val), len(test)) == (100, 500)
    assert not val & test and not (val | test) & train
    monkeypatch.setattr("sys.argv", ["wer.py", "--split", "train", "synth", "out"])
    with pytest.raises(SystemExit):
        wer_script.main()
    assert "argument --split: invalid choice: 'train'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "ref, hyp, distance",
    [("a b c", "a b c", 0), ("a b c", "a c", 1), ("a b c", "a x c d", 2), ("a b", "", 2)],
)
def test_wer_edit_distance(wer_script, ref, hyp, distance):
    assert wer_script.edit_distance(ref.split(), hyp.split()) == distance


def test_duration_ratios_are_per_sentence_and_flag_more_than_one_and_a_half_times(wer_script):
    ratios = wer_script.duration_ratios({"a": 3.0, "b": 1.0, "c": 2.0}, {"a": 2.0, "b": 1.0, "d": 4.0})
    assert ratios == {"a": 1.5, "b": 1.0}  # only the sentences both have
    summary = wer_script.ratio_summary({"a": 1.5, "b": 1.0, "c": 0.6, "d": 1.6, "e": 2 / 3})
    assert (summary["median"], summary["min"], summary["max"]) == (1.0, 0.6, 1.6)
    assert summary["outside"] == ["c", "d"] and summary["sentences"] == 5
    with pytest.raises(ValueError, match="no sentence in common"):
        wer_script.ratio_summary({})


def test_the_teachers_spread_is_the_difference_of_two_samplings(wer_script):
    result = wer_script.spread(0.30, 0.27)
    assert result["runs"] == [0.30, 0.27]
    assert result["mean"] == pytest.approx(0.285) and result["spread"] == pytest.approx(0.03)


def test_the_mos_scorers_rate_speech_above_noise(wer_script):
    """DistillMOS and DNSMOS (the eval extra), fed arrays: distillmos imports without torchaudio."""
    if not all(importlib.util.find_spec(name) for name in ("distillmos", "speechmos")):
        pytest.skip("needs pip install 'ttsfw[eval]'")  # (importing distillmos itself needs torchaudio)
    import numpy as np
    from scipy.signal import resample_poly

    tts = Pipeline.from_overrides([select("joe"), "vocoder.n_iter=16", "seed=1"])
    audio = tts.synthesize(["The quick brown fox jumps over the lazy dog."]).utterances[0].audio
    speech = resample_poly(audio, 16000, 22050).astype(np.float32)
    speech *= 0.9 / float(np.abs(speech).max())
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, len(speech)).astype(np.float32)
    for scorer in (wer_script.DistillMOS(), wer_script.DNSMOS()):
        assert 1.0 <= scorer(noise) < scorer(speech) <= 5.0
    assert "torchaudio" not in sys.modules  # the stand-in is gone once distillmos is imported


def test_the_pitch_tracker_finds_voiced_frames_in_a_harmonic_tone_and_none_in_noise(wer_script):
    if importlib.util.find_spec("librosa") is None:
        pytest.skip("needs pip install 'ttsfw[eval]'")
    import numpy as np

    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8)).astype(np.float32) * 0.3
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, 16000).astype(np.float32)
    voiced = wer_script.VoicedFraction()
    assert voiced(tone) > 0.8 and voiced(noise) < 0.1


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
