"""Bad input and faults: a per-line problem skips that line (warned, reason in metrics.json),
a problem the run cannot get past is one clear error line; only complete files are left."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from ttsfw import audio_io
from ttsfw.config import compose_config
from ttsfw.errors import CheckpointError, ConfigError
from ttsfw.runner import synthesize_job
from ttsfw.testing import TINY_TACOTRON2 as TINY_TACOTRON2_DIMS

TOY = ["frontend=toy", "acoustic=toy", "vocoder=toy", "denoiser=none"]
TINY_TACOTRON2 = [
    *TINY_TACOTRON2_DIMS,
    # random weights never learned to stop: never stop early, decode max_decoder_steps frames
    "acoustic.max_decoder_steps=20",
    "acoustic.gate_threshold=1.0",
    "on_max_steps=warn",
    "acoustic.prenet_dropout=false",
    "frontend=english",
    "vocoder=griffinlim",
    "vocoder.n_iter=2",
    "denoiser=none",
]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (the shared machine has 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_job(tmp_path: Path, lines: list[str], *overrides: str) -> tuple[Path, dict]:
    """synthesize_job on `lines` (one per input line) into tmp_path/out; metrics.json read back."""
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg, choices = compose_config([*overrides, f"input={source}"])
    out = tmp_path / "out"
    synthesize_job(cfg, choices, out)
    return out, read_metrics(out)


def read_metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def leftovers(out: Path) -> list[str]:
    """Temp files a write left behind."""
    return sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp"))


def test_blank_and_unspeakable_lines_are_skipped_with_reasons(toy, tmp_path):
    with pytest.warns(UserWarning, match=r"line 3 skipped: text '☃☃☃' has nothing to speak"):
        out, metrics = run_job(
            tmp_path, ["Hello there.", "   ", "☃☃☃", "Good bye."], "frontend=english", *TOY[1:]
        )
    assert metrics["status"] == "complete"
    assert metrics["completed"] == [1, 4] and metrics["skipped_lines"] == [2, 3]
    assert metrics["skip_reasons"]["2"] == "blank line"
    assert "nothing to speak" in metrics["skip_reasons"]["3"]
    assert sorted(p.name for p in out.glob("*.wav")) == ["0001.wav", "0004.wav"]


@pytest.fixture
def failing_toy(toy, monkeypatch):
    """The toy acoustic model raises on a text with '#', and makes a NaN mel for one with '~'."""
    infer = toy.ToyAcoustic.infer

    def flaky_infer(self, ids, lengths, generator=None):
        if (ids == ord("#")).any():
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        mel, frames, align = infer(self, ids, lengths, generator)
        return mel.masked_fill((ids == ord("~")).any(1)[:, None, None], float("nan")), frames, align

    monkeypatch.setattr(toy.ToyAcoustic, "infer", flaky_infer)
    return toy


def test_one_failing_utterance_does_not_stop_the_run(failing_toy, tmp_path):
    lines = ["first line", "crash # here", "third line", "nan ~ here", "fifth line"]
    with pytest.warns(
        UserWarning, match="line 2 skipped: synthesis failed: RuntimeError: CUDA error"
    ):
        out, metrics = run_job(tmp_path, lines, *TOY, "batch_size=3")
    assert metrics["status"] == "complete"
    assert metrics["completed"] == [1, 3, 5] and metrics["skipped_lines"] == [2, 4]
    assert metrics["skip_reasons"]["4"] == "the acoustic model produced NaN or Inf in the mel"
    assert (
        sf.info(out / "0003.wav").frames == len("third line") * 2 * 256
    )  # batching kept it intact


def test_non_finite_audio_names_the_vocoder(toy, monkeypatch, tmp_path):
    monkeypatch.setattr(
        toy.ToyVocoder,
        "infer",
        lambda self, mel, generator=None: torch.full(
            (len(mel), mel.shape[2] * self.hop_length), float("inf")
        ),
    )
    with pytest.warns(
        UserWarning, match="line 1 skipped: the vocoder produced NaN or Inf in the audio"
    ):
        out, metrics = run_job(tmp_path, ["hello"], *TOY)
    assert metrics["completed"] == [] and list(out.glob("*.wav")) == []


def test_full_disk_stops_the_run_with_one_line_and_no_partial_file(toy, monkeypatch, tmp_path):
    def full(self, audio):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audio_io.AudioStream, "write", full)
    with pytest.raises(
        audio_io.OutputError, match=r"no space left on the device writing .*0001\.wav; free"
    ):
        run_job(tmp_path, ["hello", "there"], *TOY)
    out = tmp_path / "out"
    assert list(out.glob("*.wav")) == [] and leftovers(out) == []
    metrics = read_metrics(out)
    assert metrics["status"] == "failed: OutputError" and metrics["completed"] == []


def test_output_dir_that_cannot_be_made(toy, tmp_path):
    (tmp_path / "a-file").write_text("")
    cfg, choices = compose_config([*TOY, "text=hi"])
    with pytest.raises(
        audio_io.OutputError,
        match=r"cannot write .*a-file/out: Not a directory; choose another with hydra\.run\.dir=DIR",
    ):
        synthesize_job(cfg, choices, tmp_path / "a-file" / "out")


def test_output_dir_without_permission(toy, monkeypatch, tmp_path):
    def denied(self, data):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", denied)
    cfg, choices = compose_config([*TOY, "text=hi"])
    with pytest.raises(
        audio_io.OutputError,
        match=r"output directory is not writable: .*out; choose another with hydra\.run\.dir=DIR",
    ):
        synthesize_job(cfg, choices, tmp_path / "out")


@pytest.mark.parametrize(
    "override, message",
    [  # a value of the wrong type: at composition, by the schema; out of range: by the job
        ("batch_size=abc", "batch_size: Value 'abc' of type 'str' could not be converted to Integer"),
        ("batch_size=1.5", "batch_size: Value '1.5' of type 'float' could not be converted to Integer"),
        ("pause=soon", "pause: Value 'soon' of type 'str' could not be converted to Float"),
        ("split=maybe", "split: Value 'maybe' is not a valid bool (type str)"),
        (
            "on_max_steps=ignore",
            "on_max_steps must be one of retry_split, warn, error, got 'ignore'",
        ),
        ("pause=-1", "pause >= 0"),
    ],
)
def test_config_values_of_the_wrong_type(toy, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        cfg, choices = compose_config([*TOY, "text=hi", override])
        synthesize_job(cfg, choices, tmp_path / "out")


def test_truncated_and_wrong_kind_checkpoints(tmp_path):
    from ttsfw import Pipeline

    truncated = tmp_path / "truncated.pt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    wrong = tmp_path / "wrong.pt"
    torch.save({"generator": {"conv_pre.weight": torch.zeros(2)}}, wrong)
    for path in (truncated, wrong):
        with pytest.raises(CheckpointError, match=str(path.name)):
            Pipeline.from_overrides([*TINY_TACOTRON2, f"acoustic.checkpoint={path}"])


def ttsfw(tmp_path: Path, *args: str, stdin: str | None = None, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "TTSFW_PLUGINS": "",
        "OMP_NUM_THREADS": "1",
    }  # tiny models: 1 thread is fastest
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ttsfw",
            *TINY_TACOTRON2,
            f"hydra.run.dir={tmp_path / 'out'}",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as in a terminal: a test runner started in the background inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["batch_size=abc"], "ttsfw: error: batch_size: Value 'abc' of type 'str' could not be converted to Integer"),
        (["acoustic.checkpoint={tmp}/broken.pt"], "ttsfw: error: "),
    ],
)
def test_cli_prints_one_error_line(tmp_path, args, expected):
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    process = ttsfw(tmp_path, "text=hi", *[a.format(tmp=tmp_path) for a in args])
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith(expected)
    if "broken" in args[0]:
        assert "broken.pt" in stderr.strip().splitlines()[-1]


def test_ctrl_c_leaves_complete_files_and_metrics_then_resume_finishes(tmp_path):
    lines = [f"Sentence number {n}, spoken slowly." for n in range(1, 401)]
    (tmp_path / "book.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    process = ttsfw(tmp_path, "input=book.txt", "vocoder.n_iter=8")
    while not list(out.glob("*.wav")):
        assert process.poll() is None, process.communicate()[1]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-2:]
    assert last[0].startswith("ttsfw: stopped after ") and "resume=true" in last[0], last
    assert last[1] == "ttsfw: interrupted"
    metrics = read_metrics(out)
    assert metrics["status"] == "failed: KeyboardInterrupt", metrics
    finished = metrics["completed"]
    assert 1 <= len(finished) < len(lines)
    assert sorted(p.name for p in out.glob("*.wav")) == [f"{n:04d}.wav" for n in finished]
    assert leftovers(out) == []
    for name in metrics["files"]:
        assert sf.info(out / name).frames > 0

    process = ttsfw(tmp_path, "input=book.txt", "resume=true")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    metrics = read_metrics(out)
    assert metrics["resumed"] == finished
    assert sorted(metrics["completed"] + finished) == list(range(1, len(lines) + 1))


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler, also where the tests run in the background (a shell starts
    background jobs with SIGINT ignored, and Python then leaves it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SignalledWhenCollected:
    """An object whose ``__del__`` gets a signal: Python drops the exception its handler raises
    there ("Exception ignored in ..."), as it did for a SoundFile collected after a Ctrl-C."""

    def __init__(self, signal_number: int):
        self.signal_number = signal_number

    def __del__(self):
        signal.raise_signal(self.signal_number)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("in_a_finalizer", [False, True], ids=["plain", "in-a-finalizer"])
@pytest.mark.parametrize(
    "signal_number, stop", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
)
def test_a_signal_after_the_first_file_keeps_files_and_metrics_in_step(
    toy, tmp_path, signal_number, stop, in_a_finalizer, python_sigint
):
    from ttsfw import plugins
    from ttsfw.hookspecs import hookimpl

    class SignalAfterFirstFile:
        @hookimpl
        def ttsfw_after_write(self, utterance, path):
            if in_a_finalizer:
                SignalledWhenCollected(signal_number)  # collected at once
            else:
                os.kill(os.getpid(), signal_number)

    plugins.get_plugin_manager().register(SignalAfterFirstFile(), name="signal-after-first-file")
    with pytest.raises(stop):
        run_job(tmp_path, ["one", "two", "three"], *TOY)
    out = tmp_path / "out"
    metrics = read_metrics(out)
    assert metrics["status"] == f"failed: {stop.__name__}"
    assert metrics["completed"] == [1] and metrics["files"] == ["0001.wav"]
    assert sorted(p.name for p in out.glob("*.wav")) == ["0001.wav"] and leftovers(out) == []


def test_write_hooks_get_the_line_and_the_config(toy, tmp_path):
    """A post-processing plugin reads its own setting from the composed config; after_write
    names the line by number and text."""
    from ttsfw import plugins
    from ttsfw.hookspecs import hookimpl

    seen = []

    class Halve:
        @hookimpl
        def ttsfw_before_write(self, utterance, pipeline):
            utterance.audio = utterance.audio * pipeline.cfg.halve.gain

        @hookimpl
        def ttsfw_after_write(self, utterance, path):
            seen.append((utterance.index, utterance.text, path.name))

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain, _ = run_job(tmp_path / "a", ["Loud line."], *TOY)
    plugins.get_plugin_manager().register(Halve(), name="halve")
    quiet, _ = run_job(tmp_path / "b", ["Loud line."], *TOY, "++halve.gain=0.5")
    loud = sf.read(plain / "0001.wav")[0]
    assert abs(sf.read(quiet / "0001.wav")[0] - loud * 0.5).max() < 2 / 32768
    assert seen == [(0, "Loud line.", "0001.wav")]


def test_signals_held_while_a_file_is_recorded_reach_their_own_handlers_after_it(python_sigint):
    from ttsfw.signals import signals_deferred

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda number, frame: seen.append(number))
    try:
        with signals_deferred():
            signal.raise_signal(signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            with signals_deferred():
                signal.raise_signal(signal.SIGINT)
                recorded = True
        assert recorded
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job: Ctrl-C stays ignored
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
