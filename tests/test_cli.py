"""The CLI end to end, through a real entry-point plugin installed in a venv (toy components)."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from ttsfw.threads import available_cpus

TOY = ["frontend=toy", "acoustic=toy", "vocoder=toy", "denoiser=none"]


@pytest.fixture
def run(plugin_venv, tmp_path):
    """Run ``python -m ttsfw`` with the toy plugin into tmp_path/out."""

    def _run(*args: str, stdin: str | None = None, toy: bool = True):
        extra = [*TOY] if toy else []
        return plugin_venv.ttsfw(
            *extra, f"hydra.run.dir={tmp_path / 'out'}", *args,
            plugins="toy", cwd=tmp_path, stdin=stdin,
        )

    return _run


def one_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_text_is_spoken_into_the_run_dir(run, tmp_path):
    result = run("text=Hello there.")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    data, rate = sf.read(out / "0001.wav")
    assert rate == 22050 and len(data) == len("Hello there.") * 2 * 256
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    assert metrics["completed"] == [1] and metrics["files"] == ["0001.wav"]
    assert metrics["choices"]["vocoder"] == "toy" and metrics["choices"]["device"] == "cpu"
    assert set(metrics["latency_seconds"]) == {"frontend", "acoustic", "vocoder"}
    assert metrics["audio_seconds"] == pytest.approx(len(data) / 22050)
    assert metrics["rtf"] > 0 and metrics["samples_per_second"] > 0
    assert metrics["versions"]["plugins"]["toy"] == "ttsfw-toy 0.3.1"
    assert metrics["threads"]["policy"] == "adaptive" and set(metrics["threads"]["stages"]) == {"acoustic", "vocoder"}
    assert metrics["threads"]["omp_wait"] == {"GOMP_SPINCOUNT": "10000"}  # set before torch loaded
    assert result.stderr.strip().splitlines()[-1].startswith(f"ttsfw: 1 file(s), {len(data) / 22050:.1f} s of audio in {out}")
    # first, one line naming the voice and the stages it came to (here the command line's)
    assert result.stderr.splitlines()[0] == "ttsfw: voice: joe = toy ttsfw_joe + toy"  # joe sets acoustic.checkpoint


def test_input_file_lines_are_named_by_line_number(run, tmp_path):
    (tmp_path / "book.txt").write_text("First line.\n\nThird line, longer than the first.\n")
    result = run("input=book.txt", "batch_size=2", "format=flac")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("*.flac")) == ["0001.flac", "0003.flac"]
    assert sf.info(out / "0003.flac").frames == len("Third line, longer than the first.") * 512
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped_lines"] == [2] and metrics["completed"] == [1, 3]


def test_stdin(run, tmp_path):
    result = run("input=-", stdin="one\ntwo two\n")
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "out" / "0002.wav").frames == len("two two") * 512


def test_multirun_makes_one_run_dir_per_job(plugin_venv, tmp_path):
    result = plugin_venv.ttsfw(
        "-m", *TOY, "text=Sweep me.", "batch_size=1,2", "format=wav,flac",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", plugins="toy", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*"))
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["completed"] == [1]
        assert (job / f"0001.{metrics['config']['format']}").is_file()
    assert {json.loads((j / "metrics.json").read_text())["batch_size"] for j in jobs} == {1, 2}


def test_a_failing_sweep_job_does_not_stop_the_others(plugin_venv, tmp_path):
    result = plugin_venv.ttsfw(
        "-m", *TOY, "text=Sweep me.", "device=cuda,cpu",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", plugins="toy", cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "ttsfw: error: device=cuda requested but CUDA is not available" in result.stderr
    assert (tmp_path / "sweep" / "1" / "0001.wav").is_file()  # the cpu job still ran
    assert (tmp_path / "sweep" / "summary.csv").is_file()  # and the summary was written
    summary = (tmp_path / "sweep" / "summary.md").read_text()
    assert "- job 0 (" in summary and "device=cuda): device=cuda requested but CUDA is not available" in summary
    assert "Every non-blank input line was produced." not in summary
    failed = json.loads((tmp_path / "sweep" / "0" / "metrics.json").read_text())
    assert failed["status"] == "failed: DeviceError" and "CUDA is not available" in failed["error"]


def test_a_failing_sweep_job_fails_the_sweep_under_another_launcher(plugin_venv, tmp_path):
    """joblib runs jobs in worker processes: the exit status comes from the sweep summary."""
    result = plugin_venv.ttsfw(
        "-m", *TOY, "text=Sweep me.", "device=cuda,cpu", "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'sweep'}", plugins="toy", cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "1 failed job(s):" in result.stdout
    assert (tmp_path / "sweep" / "1" / "0001.wav").is_file()
    # two jobs at once share the cores: each adapts within cores // 2
    threads = json.loads((tmp_path / "sweep" / "1" / "metrics.json").read_text())["threads"]
    assert threads["workers"] == min(2, available_cpus())
    assert threads["cpus"] == max(1, available_cpus() // threads["workers"])


def test_help_lists_every_group_and_option(run):
    result = run("--help", toy=False)
    assert result.returncode == 0, result.stderr
    assert "== Configuration groups ==" in result.stdout
    for line in ("acoustic: tacotron2, toy", "device: auto, cpu, cuda, mlu", "mode: "):
        assert line in result.stdout


def test_cfg_job_prints_the_composed_config(plugin_venv, tmp_path):
    result = plugin_venv.ttsfw("--cfg", "job", *TOY, "batch_size=3", plugins="toy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "batch_size: 3" in result.stdout and "vocoder:\n  name: toy\n  hop_length: 256" in result.stdout


def test_shell_completion_offers_groups(plugin_venv, tmp_path):
    import os
    import subprocess

    # Hydra's completion parses the line of the `ttsfw` console script (not `python -m`)
    env = {**os.environ, "COMP_LINE": "ttsfw vocoder=", "TTSFW_PLUGINS": "toy"}
    result = subprocess.run(
        [plugin_venv.python, "-m", "ttsfw", "-sc", "query=bash"], env=env, text=True,
        capture_output=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "vocoder=toy" in result.stdout.split()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["vocoder=nope"], "ttsfw: error: unknown vocoder 'nope'; available: "),
        (["device=tpu"], "ttsfw: error: unknown device 'tpu'; available: auto, cpu, cuda, mlu"),
        (["-m", "vocoder=toy,nope"], "ttsfw: error: unknown vocoder 'nope'"),
        (["input=missing.txt"], "ttsfw: error: input file not found: missing.txt"),
        (["text= "], "ttsfw: error: no text to speak"),
        (["device=cuda"], "ttsfw: error: device=cuda requested but CUDA is not available"),
        (["device=mlu"], "ttsfw: error: device=mlu requested but torch_mlu is not installed"),
        (["format=mp3", "text=hi"], "ttsfw: error: unknown audio format 'mp3'; choose one of wav, flac"),
        # a value that does not fit its schema names the key, at composition (before torch)
        (["batch_size=two"], "ttsfw: error: batch_size: Value 'two' of type 'str' could not be converted to Integer"),
        (["vocoder=griffinlim", "vocoder.n_iter=1.5"],
         "ttsfw: error: vocoder.n_iter: Value '1.5' of type 'float' could not be converted to Integer"),
        (["-m", "device.threads=1,many"], "ttsfw: error: device.threads: Value 'many' of type 'str'"),
        (["-m", "device=cpu,auto", "device.reuse_memory=false"],
         "ttsfw: error: unknown config key 'device.reuse_memory'; known: name, index, threads, workers "
         "(in the sweep's job with device=auto)"),
        # refused before any component is built: the missing checkpoint is never reached
        (["format=mp3", "acoustic=tacotron2", "acoustic.checkpoint=/no/such.pt"],
         "ttsfw: error: unknown audio format 'mp3'"),
    ],
)
def test_errors_are_one_clear_line(run, args, expected):
    assert one_error_line(run(*args)).startswith(expected)


def test_an_unusable_run_dir_is_one_line(run, tmp_path):
    (tmp_path / "a_file").write_text("")
    line = one_error_line(run("text=hi", f"hydra.run.dir={tmp_path / 'a_file' / 'run'}"))
    assert line == f"ttsfw: error: cannot write {tmp_path / 'a_file' / 'run'}: Not a directory; choose another with hydra.run.dir=DIR"


def test_an_unusable_sweep_dir_names_the_sweep_option(plugin_venv, tmp_path):
    (tmp_path / "a_file").write_text("")
    result = plugin_venv.ttsfw("-m", *TOY, "text=hi", "batch_size=1,2",
                               f"hydra.sweep.dir={tmp_path / 'a_file' / 'sweep'}", plugins="toy", cwd=tmp_path)
    assert one_error_line(result).endswith("Not a directory; choose another with hydra.sweep.dir=DIR")


def test_the_cli_knows_the_default_output_dirs():
    from omegaconf import OmegaConf

    from conftest import REPO
    from ttsfw.cli import DEFAULT_OUTPUT_DIRS

    hydra = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "config.yaml").hydra)  # unresolved
    assert DEFAULT_OUTPUT_DIRS == {"hydra.run.dir": hydra["run"]["dir"], "hydra.sweep.dir": hydra["sweep"]["dir"]}


@pytest.mark.parametrize("args", [["format=mp3"], ["device=cuda"], ["input=missing.txt"]])
def test_a_failed_run_leaves_a_run_dir_that_says_why(run, tmp_path, args):
    result = run(*args)
    assert result.returncode == 1
    out = tmp_path / "out"
    # besides Hydra's own .hydra/ and ttsfw.log: the metrics, and no audio
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["metrics.json", "ttsfw.log"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"].startswith("failed: ") and metrics["error"] in result.stderr


def test_random_weights_are_one_warning_line(run):
    result = run("acoustic=tacotron2", "acoustic.checkpoint=random", "acoustic.max_decoder_steps=5",
                 "++acoustic.early_stopping=false", "text=Hi.")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "random weights" in line]
    assert warnings == ["ttsfw: warning: Tacotron2 has random weights (checkpoint=random): its output "
                        "is noise, not speech (for tests and benchmarks)"]


def test_unknown_plugin_component_says_which_package(run):
    line = one_error_line(run("vocoder=hifigan"))
    assert "'hifigan' is provided by the plugin package ttsfw-hifigan (pip install ttsfw-hifigan)" in line
