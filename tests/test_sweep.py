"""Sweep summaries: the Hydra callback after multiruns on the basic, joblib and submitit_local
launchers, shard coverage, and the SLURM (submitit) launcher config composing with ttsfw's."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import TOY
from ttsfw.config import CONF_DIR, compose_config
from ttsfw.runner import synthesize_job
from ttsfw.sweep import main, write_summary
from ttsfw.testing import TINY_TACOTRON2

BOOK = "First line.\nA second, longer line of the book.\n\nFourth.\nThe fifth line is here.\nSix.\nSeven, the last.\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# -- end to end through `python -m ttsfw -m ...` ---------------------------------------------


def test_bench_sweep_on_the_basic_launcher_writes_one_row_per_job(plugin_venv, tmp_path):
    sweep = tmp_path / "sweep"
    result = plugin_venv.ttsfw(
        "-m",
        "mode=bench",
        *TOY,
        "batch_size=1,2",
        "precision=fp32,bf16",
        "mode.num_iters=2",
        "mode.warmup=0",
        "device.threads=1",
        f"hydra.sweep.dir={sweep}",
        plugins="toy",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"sweep summary: {sweep / 'summary.md'}: 4 jobs, 0 missing input lines" in result.stdout
    rows = read_csv(sweep / "summary.csv")
    assert [(r["job"], r["batch_size"], r["precision"]) for r in rows] == [
        ("0", "1", "fp32"),
        ("1", "1", "bf16"),
        ("2", "2", "fp32"),
        ("3", "2", "bf16"),
    ]
    for row in rows:
        bench = json.loads((sweep / row["job"] / "bench.json").read_text())
        assert row["status"] == "complete" and row["mode"] == "bench" and row["vocoder"] == "toy"
        assert float(row["latency_p99"]) == bench["summary"]["latency"]["p99"]
        assert float(row["audio_seconds"]) == pytest.approx(
            int(row["batch_size"]) * 332 * 256 / 22050
        )
    summary = (sweep / "summary.md").read_text()
    assert (
        "4 jobs. Common overrides: mode=bench frontend=toy acoustic=toy vocoder=toy denoiser=none"
        in summary
    )
    assert "| job | batch_size | precision | status |" in summary
    assert "| 3 | 2 | bf16 | complete | cpu |" in summary
    assert "coverage" not in summary  # benchmarks speak no input lines


def test_three_shards_on_joblib_give_the_files_of_one_run(plugin_venv, toy, tmp_path, monkeypatch):
    (tmp_path / "book.txt").write_text(BOOK)
    monkeypatch.chdir(tmp_path)
    synthesize_job(*compose_config([*TOY, "input=book.txt"]), tmp_path / "single")  # in-process
    sweep = tmp_path / "sweep"
    sharded = plugin_venv.ttsfw(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *TOY,
        "input=book.txt",
        "num_shards=3",
        "shard=0,1,2",
        f"hydra.sweep.dir={sweep}",
        plugins="toy",
        cwd=tmp_path,
    )
    assert sharded.returncode == 0, sharded.stderr

    expected = {p.name: p.read_bytes() for p in (tmp_path / "single").glob("*.wav")}
    produced = {p.name: p.read_bytes() for p in sweep.glob("*/*.wav")}
    assert sorted(expected) == [
        "0001.wav",
        "0002.wav",
        "0004.wav",
        "0005.wav",
        "0006.wav",
        "0007.wav",
    ]
    assert produced == expected
    assert len(list(sweep.glob("*/*.wav"))) == len(expected)  # no line spoken twice

    rows = read_csv(sweep / "summary.csv")
    assert [(r["job"], r["shard"], r["status"], r["utterances"]) for r in rows] == [
        ("0", "0", "complete", "3"),
        ("1", "1", "complete", "2"),
        ("2", "2", "complete", "1"),
    ]
    summary = (sweep / "summary.md").read_text()
    assert (
        "| all jobs | 3 | 7 | 6 | 1 | 0 |" in summary
    )  # 3 jobs, 7 lines, 6 produced, 1 blank, 0 missing
    assert "Every non-blank input line was produced." in summary


NO_SUBMITIT = importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None


@pytest.mark.skipif(NO_SUBMITIT, reason="hydra-submitit-launcher is not installed")
@pytest.mark.filterwarnings("ignore::ttsfw.weights.load.RandomWeightsWarning")
@pytest.mark.filterwarnings("ignore:.*reached acoustic.max_decoder_steps")
def test_two_shards_on_submitit_local_give_the_files_of_one_run(tmp_path, monkeypatch):
    # a seeded random Tacotron2 (prenet dropout on): each line's audio depends on its seed
    tiny = [*TINY_TACOTRON2, "acoustic.max_decoder_steps=20", "acoustic.gate_threshold=1.0",
            "on_max_steps=warn", "vocoder=griffinlim", "vocoder.n_iter=2", "denoiser=none", "device.threads=1"]
    (tmp_path / "book.txt").write_text(BOOK)
    monkeypatch.chdir(tmp_path)
    synthesize_job(*compose_config([*tiny, "input=book.txt"]), tmp_path / "single")
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "ttsfw", "-m", "hydra/launcher=submitit_local", *tiny,
         f"input={tmp_path / 'book.txt'}", "num_shards=2", "shard=0,1", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"sweep summary: {sweep / 'summary.md'}: 2 jobs, 0 missing input lines" in done.stdout
    assert sorted(p.relative_to(sweep).as_posix() for p in sweep.glob("*/*.wav")) == [
        "0/0001.wav", "0/0005.wav", "0/0007.wav", "1/0002.wav", "1/0004.wav", "1/0006.wav",
    ]
    expected = {p.name: p.read_bytes() for p in (tmp_path / "single").glob("*.wav")}
    assert {p.name: p.read_bytes() for p in sweep.glob("*/*.wav")} == expected
    assert (sweep / ".submitit").is_dir()  # each job ran as its own submitit process


# -- the summary itself, on hand-made job directories ----------------------------------------


def make_job(sweep: Path, name: str, overrides: list[str], metrics: dict | None) -> None:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))


def shard_metrics(lines: list[int], skip_reasons: dict[str, str] | None = None) -> dict:
    return {
        "status": "complete",
        "lines": 12,
        "utterances": len(lines),
        "completed": lines,
        "skip_reasons": skip_reasons or {},
        "audio_seconds": 1.5 * len(lines),
        "compute_seconds": 0.5,
        "rtf": 0.25,
        "latency_seconds": {"acoustic": 0.5},
    }


def test_missing_lines_are_reported(tmp_path):
    common = ["input=book.txt", "num_shards=4"]
    make_job(tmp_path, "0", [*common, "shard=0"], shard_metrics([1, 5, 9]))
    make_job(tmp_path, "1", [*common, "shard=1"], shard_metrics([2, 10], {"6": "blank line"}))
    make_job(tmp_path, "2", [*common, "shard=2"], None)  # crashed before writing metrics
    make_job(
        tmp_path, "3", [*common, "shard=3"], shard_metrics([4, 8], {"12": "synthesis failed: NaN"})
    )
    assert write_summary(tmp_path) == (
        f"{tmp_path / 'summary.md'}: 4 jobs, 4 missing input lines, 1 failed job(s):\n"
        "  job 2 (input=book.txt num_shards=4 shard=2): no metrics.json"
    )

    summary = (tmp_path / "summary.md").read_text()
    assert "## Failed jobs\n\n- job 2 (input=book.txt num_shards=4 shard=2): no metrics.json" in summary
    assert "Missing lines (all jobs): 3, 7, 11-12" in summary
    assert "| all jobs | 3 | 12 | 7 | 1 | 4 | 10.5 | 1.5 |" in summary
    assert "| 2 | 2 | no metrics.json |" in summary
    rows = read_csv(tmp_path / "summary.csv")
    assert list(rows[0]) == [
        "job",
        "input",
        "num_shards",
        "shard",
        "status",
        "utterances",
        "audio_seconds",
        "compute_seconds",
        "rtf",
    ]
    assert rows[2]["status"] == "no metrics.json" and rows[2]["shard"] == "2"


def test_coverage_is_per_configuration_and_jobs_sort_numerically(tmp_path):
    for job, vocoder in enumerate(["a", "b"] * 6):
        lines = [1, 2] if job != 11 else [1]
        make_job(
            tmp_path,
            str(job),
            [f"vocoder={vocoder}", f"seed={job}"],
            {**shard_metrics(lines), "lines": 2},
        )
    write_summary(tmp_path)
    assert [r["job"] for r in read_csv(tmp_path / "summary.csv")] == [str(i) for i in range(12)]
    summary = (tmp_path / "summary.md").read_text()
    assert "Missing lines (vocoder=b seed=11): 2" in summary
    assert summary.count("| vocoder=") == 12


def test_summary_command(tmp_path, capsys):
    make_job(tmp_path, "0", ["batch_size=1"], {"status": "complete", "rtf": 0.5})
    assert main([str(tmp_path)]) == 0
    assert "1 jobs" in capsys.readouterr().out and (tmp_path / "summary.csv").is_file()
    assert main([str(tmp_path / "nope")]) == 2
    assert "usage: python -m ttsfw.sweep SWEEP_DIR" in capsys.readouterr().err


# -- config ---------------------------------------------------------------------------------


def hydra_config(overrides: list[str]):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True).hydra


def test_the_summary_callback_is_configured():
    assert hydra_config([]).callbacks.sweep_summary._target_ == "ttsfw.sweep.SweepSummary"


@pytest.mark.skipif(NO_SUBMITIT, reason="hydra-submitit-launcher is not installed")
def test_the_documented_slurm_sweep_composes():
    # the command of docs/benchmark.md, "On a SLURM cluster"
    hydra = hydra_config(
        [
            "hydra/launcher=submitit_slurm",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.gpus_per_node=1",
            "hydra.launcher.cpus_per_task=8",
            "hydra.launcher.timeout_min=120",
            "mode=bench",
            "device=cuda",
        ]
    )
    assert hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (hydra.launcher.partition, hydra.launcher.gpus_per_node, hydra.launcher.timeout_min) == (
        "gpu",
        1,
        120,
    )
    assert hydra.callbacks.sweep_summary._target_ == "ttsfw.sweep.SweepSummary"


def test_failed_jobs_are_listed_with_their_reason_and_coverage_does_not_claim_success(tmp_path):
    make_job(tmp_path, "0", ["device=cuda"], {"status": "failed: DeviceError", "error": "no CUDA here"})
    make_job(tmp_path, "1", ["device=cpu"], shard_metrics(list(range(1, 13))))
    assert write_summary(tmp_path).endswith("1 failed job(s):\n  job 0 (device=cuda): no CUDA here")
    summary = (tmp_path / "summary.md").read_text()
    assert "- job 0 (device=cuda): no CUDA here" in summary
    assert "Every non-blank input line was produced." not in summary
    assert "Not every job completed (see Failed jobs)" in summary


def test_a_complete_sweep_says_so(tmp_path):
    make_job(tmp_path, "0", ["batch_size=1"], shard_metrics(list(range(1, 13))))
    assert "failed" not in write_summary(tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "Failed jobs" not in summary and "Every non-blank input line was produced." in summary


def test_a_swept_key_that_is_also_a_metric_is_one_column(tmp_path):
    make_job(tmp_path, "0", ["device=cuda"], {"status": "failed: DeviceError", "error": "no CUDA", "device": "cuda"})
    make_job(tmp_path, "1", ["device=cpu"], {**shard_metrics([1]), "device": "cpu"})
    write_summary(tmp_path)
    header = next(line for line in (tmp_path / "summary.md").read_text().splitlines() if line.startswith("| job"))
    assert header.split(" | ").count("device") == 1
    assert list(read_csv(tmp_path / "summary.csv")[0]).count("device") == 1
