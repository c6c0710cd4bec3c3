"""One engine: the Python API (Pipeline.synthesize) and the CLI job speak long text, cuts at
max_decoder_steps and failing lines exactly alike."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ttsfw import Pipeline
from ttsfw.errors import SynthesisError
from ttsfw.segment import split_sentences
from test_faults import TOY, failing_toy, one_thread, run_job  # noqa: F401 (fixtures)
from test_longform import limited  # noqa: F401 (fixture)

PARAGRAPH = " ".join(
    f"Sentence {n} of the paragraph, with a clause or two; and then, a little later, its end."
    for n in range(1, 40)
)


def cli_audio(tmp_path, text: str, *overrides: str) -> np.ndarray:
    out, metrics = run_job(tmp_path, [text], *TOY, *overrides)
    assert metrics["completed"] == [1]
    return sf.read(out / "0001.wav", dtype="float32")[0]


def test_a_3000_character_paragraph_is_split_and_spoken_as_the_cli_does(toy, tmp_path):
    assert len(PARAGRAPH) > 3000
    pieces = split_sentences(PARAGRAPH, 60)
    assert len(pieces) > 39  # every sentence, and the long ones cut at clauses
    api = Pipeline.from_overrides([*TOY, "max_chars=60", "batch_size=4"]).synthesize([PARAGRAPH])
    (utterance,) = api.utterances
    assert utterance.text == PARAGRAPH and utterance.index == 0
    pause = round(0.2 * 22050)
    assert len(utterance.audio) == sum(len(p) * 512 for p in pieces) + (len(pieces) - 1) * pause
    cli = cli_audio(tmp_path, PARAGRAPH, "max_chars=60", "batch_size=4")
    np.testing.assert_allclose(utterance.audio, cli, atol=1 / 32768)  # the file is 16-bit PCM


def test_a_cut_at_max_decoder_steps_is_retried_in_halves_in_both(limited, tmp_path, recwarn):
    text = "aaaaa bbbbb, ccccc ddddd"
    (utterance,) = Pipeline.from_overrides([*TOY, "pause=0.1"]).synthesize([text]).utterances
    assert not utterance.hit_max_decoder_steps
    np.testing.assert_allclose(utterance.audio, cli_audio(tmp_path, text, "pause=0.1"), atol=1 / 32768)
    assert [str(w.message) for w in recwarn.list] == []  # repaired: nothing to report


def test_a_line_that_cannot_be_spoken_has_the_same_reason_in_both(failing_toy, tmp_path):
    texts = ["first line", "nan ~ here", "crash # here", "fourth line"]
    tts = Pipeline.from_overrides(TOY)
    with pytest.raises(SynthesisError, match=r"^text 2 cannot be spoken: the acoustic model produced NaN or Inf in the mel$"):
        tts.synthesize(texts)
    result = tts.synthesize(texts, on_error="skip")
    assert [u.index for u in result.utterances] == [0, 3]
    with pytest.warns(UserWarning):
        _, metrics = run_job(tmp_path, texts, *TOY)
    assert result.skipped == {int(line) - 1: reason for line, reason in metrics["skip_reasons"].items()}
    assert result.skipped[2].startswith("synthesis failed: RuntimeError: CUDA error")


def test_on_error_must_be_known(toy):
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip', got 'ignore'"):
        Pipeline.from_overrides(TOY).synthesize(["hi"], on_error="ignore")


def test_the_benchmark_speaks_through_the_same_engine(failing_toy, tmp_path, capsys):
    from test_bench import run_bench

    metrics = run_bench(tmp_path, *TOY, "mode.text='first line, nan ~ here'", "mode.input_length=22",
                        "batch_size=2", "mode.warmup=1", "mode.num_iters=2")
    # the engine's checks and its reason, as for the API and the CLI; DLE's timing still counts the rows
    assert metrics["unspeakable_rows"] == 2 * 2
    assert metrics["unspeakable_reason"] == "the acoustic model produced NaN or Inf in the mel"
    assert metrics["audio_seconds"] == pytest.approx(2 * 22 * 2 * 256 / 22050)
    assert "rows the engine could not speak (still timed, as DLE): 4" in capsys.readouterr().out
    # a batch that raises is retried row by row, as in synthesis; if nothing ran there is nothing to time
    with pytest.raises(SynthesisError, match=r"^mode=bench: the bench text cannot be spoken: synthesis failed: Runtime"):
        run_bench(tmp_path, *TOY, "mode.text='crash # here'", "mode.input_length=12", "mode.num_iters=1")
