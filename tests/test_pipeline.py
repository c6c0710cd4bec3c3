"""Python API: Pipeline built from overrides runs toy components registered via hooks."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import TOY
from ttsfw import Pipeline
from ttsfw import audio_io
from ttsfw.errors import ConfigError, InputError
from ttsfw.pipeline import StageOutputs, check_compatible
from ttsfw.testing import TINY_TACOTRON2

TEXTS = ["Hello there.", "A much longer second sentence, to be sorted first.", "Hi"]


def test_synthesize_returns_audio_in_input_order(toy):
    tts = Pipeline.from_overrides([*TOY, "batch_size=2"])
    result = tts.synthesize(TEXTS)
    assert result.sample_rate == 22050
    assert [u.index for u in result.utterances] == [0, 1, 2]
    # toy acoustic: 2 frames per character; audio trimmed to mel_lengths * hop
    assert [len(a) for a in result.audio] == [len(t) * 2 * 256 for t in TEXTS]
    assert set(result.timings) == {"frontend", "acoustic", "vocoder"}
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert result.utterances[2].alignment.shape == (4, 2)


def test_batching_does_not_change_the_audio(toy):
    single = Pipeline.from_overrides([*TOY, "batch_size=1"]).synthesize(TEXTS)
    batched = Pipeline.from_overrides([*TOY, "batch_size=3"]).synthesize(TEXTS)
    for a, b in zip(single.audio, batched.audio):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(single.audio[1]).max() > 0.01


def test_choices_are_recorded(toy):
    tts = Pipeline.from_overrides(TOY)
    assert tts.choices["vocoder"] == "toy" and tts.choices["device"] == "cpu"


def test_empty_text_list_is_an_input_error(toy):
    with pytest.raises(InputError, match="no text to speak"):
        Pipeline.from_overrides(TOY).synthesize([])


def test_unknown_option_is_a_config_error_listing_options(toy):
    with pytest.raises(ConfigError, match=r"unknown vocoder 'nope'; available: .*toy"):
        Pipeline.from_overrides([*TOY, "vocoder=nope"])


def test_mismatched_vocoder_is_rejected_at_build_time():
    class Acoustic:
        sample_rate, hop_length, n_mel_channels = 22050, 256, 80

    class Vocoder:
        sample_rate, hop_length, n_mel_channels = 24000, 256, 80

    with pytest.raises(ConfigError, match="disagree on sample_rate: 22050 vs 24000"):
        check_compatible(Acoustic(), Vocoder())


def test_bad_batch_size(toy):
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        Pipeline.from_overrides([*TOY, "batch_size=0"]).synthesize(["hi"])


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    real_write = sf.write

    def write_then_fail(file, data, *args, **kwargs):
        real_write(file, data[: len(data) // 2], *args, **kwargs)  # half a file on disk...
        raise OSError("No space left on device")  # ...then the disk fills up

    monkeypatch.setattr(audio_io.sf, "write", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        audio_io.write_audio(tmp_path / "0001.wav", np.zeros(1000, np.float32), 22050)
    assert list(tmp_path.iterdir()) == []


def test_written_audio_round_trips(tmp_path):
    audio = np.linspace(-1.5, 1.5, 2205, dtype=np.float32)
    for fmt in ("wav", "flac"):
        path = audio_io.write_audio(tmp_path / f"a.{fmt}", audio, 22050, fmt)
        data, rate = sf.read(path, dtype="float32")
        assert rate == 22050 and len(data) == 2205
        assert data.max() <= 1.0 and data.min() >= -1.0  # clipped, not wrapped
        np.testing.assert_allclose(data[1000:1200], audio[1000:1200], atol=1e-4)


def test_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="unknown audio format 'mp3'; choose one of wav, flac"):
        audio_io.write_audio(tmp_path / "a.mp3", np.zeros(10, np.float32), 22050, "mp3")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no text to speak"),
        (b"  \n\t\n", "no text to speak"),
        (b"caf\xe9\n", "not valid UTF-8"),
    ],
)
def test_bad_input_files(tmp_path, content, message):
    path = tmp_path / "in.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        audio_io.read_texts(None, str(path), "default")


def test_missing_input_file(tmp_path):
    with pytest.raises(InputError, match=f"input file not found: {tmp_path / 'nope.txt'}"):
        audio_io.read_texts(None, str(tmp_path / "nope.txt"), "default")


def test_default_text_when_nothing_given(monkeypatch):
    monkeypatch.setattr(audio_io, "_stdin_is_piped", lambda: False)
    assert audio_io.read_texts(None, None, "The default.") == ["The default."]


def test_two_frames_per_step_through_the_pipeline():
    """A Tacotron2 with r=2: whole steps of audio, one alignment row per decoder step."""
    tts = Pipeline.from_overrides(
        [
            *TINY_TACOTRON2,
            "acoustic.n_frames_per_step=2",
            "acoustic.early_stopping=false",
            "acoustic.max_decoder_steps=5",
            "vocoder=griffinlim",
            "vocoder.n_iter=2",
            "denoiser=none",
            "on_max_steps=warn",  # keep the 5 steps whole: no retry in halves
        ]
    )
    with pytest.warns(UserWarning, match="max_decoder_steps"):
        utterance = tts.synthesize(["Hello there."]).utterances[0]
    assert utterance.mel.shape[1] == 10 and len(utterance.audio) == 10 * 256
    assert utterance.alignment.shape == (5, len(tts.encode_each(["Hello there."])[0]))


def test_alignment_is_cut_to_the_steps_of_an_early_stop():
    def outputs(steps: int) -> StageOutputs:
        return StageOutputs(torch.zeros(2, 80, 10), torch.tensor([10, 6]), torch.rand(2, steps, 7),
                            torch.zeros(2, 2560), torch.tensor([False, False]))

    assert outputs(5).alignment(1, 6, 4).shape == (3, 4)  # r = 2
    assert outputs(5).alignment(1, 5, 4).shape == (3, 4)  # a part step still has its row
    assert outputs(10).alignment(0, 6, 7).shape == (6, 7)  # r = 1
