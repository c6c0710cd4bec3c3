"""Long-form synthesis: sentences joined with a pause into one file per line, max_decoder_steps
policies, bounded memory on a 50k-character input, arbitrary unicode through real tiny models."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from ttsfw.errors import InputError
from ttsfw.segment import split_sentences
from ttsfw.stages import MaxDecoderStepsWarning, MelBatch
from test_faults import REPO, TINY_TACOTRON2, TOY, one_thread, run_job  # noqa: F401 (fixture)

HOP = 2 * 256  # toy: 2 frames per character, 256 samples per frame


def samples(out: Path, name: str = "0001.wav") -> int:
    return sf.info(out / name).frames


def test_sentences_are_joined_with_the_pause(toy, tmp_path):
    out, metrics = run_job(tmp_path, ["Hello there. How are you?"], *TOY, "pause=0.1")
    assert samples(out) == len("Hello there.How are you?") * HOP + 2205
    assert metrics["completed"] == [1]


def test_split_false_speaks_the_line_whole(toy, tmp_path):
    out, _ = run_job(tmp_path, ["Hello there. How are you?"], *TOY, "split=false")
    assert samples(out) == len("Hello there. How are you?") * HOP


def test_a_chapter_on_one_line_becomes_one_file(toy, tmp_path):
    chapter = " ".join(f"Sentence {n} is here, and it goes on for a while." for n in range(100))
    out, metrics = run_job(tmp_path, [chapter, "Short."], *TOY, "batch_size=4", "max_chars=30")
    pieces = split_sentences(chapter, 30)
    assert len(pieces) == 200
    assert samples(out) == sum(map(len, pieces)) * HOP + (len(pieces) - 1) * round(0.2 * 22050)
    assert samples(out, "0002.wav") == len("Short.") * HOP
    assert metrics["completed"] == [1, 2]


@pytest.fixture
def limited(toy, monkeypatch):
    """The toy acoustic model stops every item at 40 frames and reports which it cut, warning
    as Tacotron2 does (the pipeline reports what is still cut after its own retries)."""
    infer = toy.ToyAcoustic.infer

    def mels_at_most_40(self, ids, lengths, generator=None):
        mel, frames, align = infer(self, ids, lengths, generator)
        hit = (frames > 40).nonzero().flatten().tolist()
        if hit:
            warnings.warn(MaxDecoderStepsWarning(hit, 40))
        return MelBatch(mel, frames.clamp(max=40), align, hit)

    monkeypatch.setattr(toy.ToyAcoustic, "mels", mels_at_most_40)


def test_retry_split_speaks_the_halves(limited, tmp_path, recwarn):
    out, metrics = run_job(tmp_path, ["aaaaa bbbbb, ccccc ddddd"], *TOY, "pause=0.1")
    # the halves "aaaaa bbbbb," and "ccccc ddddd." (a bare half gets a full stop), 0.1 s apart
    assert samples(out) == len("aaaaa bbbbb,ccccc ddddd.") * HOP + 2205
    # the model's own "cut at 40 frames" warning is not shown: the retry fixed the cut
    assert metrics["hit_max_decoder_steps"] == [] and [str(w.message) for w in recwarn.list] == []


def test_retry_split_warns_when_a_word_cannot_be_cut(limited, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, metrics = run_job(tmp_path, ["x" * 30], *TOY)
    # one warning, naming the line, the sentence and its first words; not the model's own
    assert [str(w.message) for w in caught] == [
        f"line 1, sentence 1 ('{'x' * 30}') reached acoustic.max_decoder_steps=1000; its speech is "
        "cut off there (raise acoustic.max_decoder_steps, or shorten the sentence)"
    ]
    assert samples(out) == 40 * 256 and metrics["hit_max_decoder_steps"] == [1]


def test_warn_keeps_the_cut_audio_and_names_it(limited, tmp_path):
    with pytest.warns(
        UserWarning, match=r"line 2, sentence 2 \('aaaaa bbbbb, ccccc ddddd'\) reached"
    ):
        out, metrics = run_job(
            tmp_path, ["fine", "Ok. aaaaa bbbbb, ccccc ddddd"], *TOY, "on_max_steps=warn", "pause=0"
        )
    assert samples(out, "0002.wav") == (len("Ok.") * 2 + 40) * 256
    assert metrics["hit_max_decoder_steps"] == [2] and metrics["completed"] == [1, 2]


def test_error_stops_the_run(limited, tmp_path):
    with pytest.raises(
        InputError,
        match=r"line 1, sentence 1 .* reached acoustic.max_decoder_steps=1000: .* on_max_steps=retry_split",
    ):
        run_job(tmp_path, ["aaaaa bbbbb, ccccc ddddd"], *TOY, "on_max_steps=error")


PEAK_RSS = """
import resource, sys
sys.path.insert(0, {toy!r})
import ttsfw_toy
from ttsfw import plugins
from ttsfw.config import compose_config
from ttsfw.runner import synthesize_job
plugins.get_plugin_manager().register(ttsfw_toy, name="toy")
chars = int(sys.argv[1])
sentence = "A sentence of about sixty characters, spoken and then joined. "
open("in.txt", "w").write((sentence * (chars // len(sentence) + 1))[:chars] + "\\n")
cfg, choices = compose_config({overrides!r} + ["input=in.txt", "batch_size=4"])
synthesize_job(cfg, choices, __import__("pathlib").Path("out"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_rss_mib(tmp_path: Path, chars: int) -> int:
    work = tmp_path / str(chars)
    work.mkdir()
    script = PEAK_RSS.format(toy=str(REPO / "tests" / "toy_plugin"), overrides=TOY)
    result = subprocess.run(
        [sys.executable, "-c", script, str(chars)],
        cwd=work,
        capture_output=True,
        text=True,
        env={"TTSFW_PLUGINS": "", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "out" / "metrics.json").read_text())["completed"] == [1]
    return int(result.stdout.split()[-1])


def test_memory_stays_flat_on_a_50k_character_line(tmp_path):
    """50k characters make 100 MiB of float32 audio with the toy models: the peak must not
    grow by anything like that over a 5k-character run, since audio streams to the file."""
    small, large = peak_rss_mib(tmp_path, 5_000), peak_rss_mib(tmp_path, 50_000)
    print(f"peak RSS: 5k chars {small} MiB, 50k chars {large} MiB")
    assert large - small < 30, (small, large)


SENTENCE = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).map(
    lambda text: " ".join("".join(text.splitlines()).split())
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(SENTENCE.filter(str.strip), min_size=1, max_size=4))
def test_arbitrary_unicode_through_real_tiny_models(tmp_path_factory, sentences):
    """Line k holds the first k sentences; no line raises, and durations never shrink with k."""
    lines = [" ".join(f"{s}." for s in sentences[:k]) for k in range(1, len(sentences) + 1)]
    assume(any(line.replace(".", "").strip() for line in lines))
    tmp_path = tmp_path_factory.mktemp("unicode")
    out, metrics = run_job(tmp_path, lines, *TINY_TACOTRON2, "batch_size=8")
    assert metrics["status"] == "complete"
    durations = [
        samples(out, f"{k:04d}.wav") if k in metrics["completed"] else 0
        for k in range(1, len(lines) + 1)
    ]
    assert durations == sorted(durations)
