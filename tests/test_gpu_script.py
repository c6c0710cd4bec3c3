"""scripts/gpu_bench.py, the GPU session's prepared run, works on a CPU in its quick form: the
graph check (blocks run eagerly), the goldens on the device (scripts/device_goldens.py), the
benchmark rows and the table; a golden that is missed stops it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def gpu_bench(out: Path, golden: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_bench.py"), "--out", str(out), "--device", "cpu", "--quick",
         "--golden", str(golden)],
        capture_output=True, text=True, timeout=600,
    )


def test_the_gpu_script_runs_small_on_a_cpu_and_writes_its_table(tmp_path, golden):
    done = gpu_bench(tmp_path, golden)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_bench.json").read_text())
    check = report["graphs_vs_steps"]
    assert check["max_abs_diff"] == 0.0 and check["blocks"] == 1 and check["same_chunk_count"]
    goldens = report["goldens"]
    outputs = [row["output"] for row in goldens["rows"]]
    assert goldens["passed"] and goldens["device"].startswith("cpu")
    # Tacotron2: 3 cases x (mel_lengths + 5 outputs) x graphs 0 and 16 (eager blocks here);
    # WaveGlow 2, denoiser 3; HiFi-GAN 2 only where the plugin is importable
    assert sum(name.startswith("tacotron2 ") for name in outputs) == 36
    assert "tacotron2 b1_max graphs=16 gate" in outputs and "denoiser 0.1" in outputs
    assert sum(name.startswith(("waveglow", "denoiser")) for name in outputs) == 5
    assert sum(name.startswith("hifigan") for name in outputs) in (0, 2)
    rows = [(row["system"], row["graph_steps"], row["batch"]) for row in report["rows"]]
    assert rows == [("ttsfw Tacotron2 + WaveGlow-256", 0, 1), ("ttsfw Tacotron2 + WaveGlow-256", 8, 2)]
    assert all(row["latency"] > 0 and row["audio_seconds"] > 0 for row in report["rows"])
    table = (tmp_path / "gpu_bench.md").read_text()
    assert "20 decoder steps forced" in table and table.count("| ttsfw Tacotron2 + ") == 2
    assert f"goldens in fp32 on the device: {len(outputs)} of {len(outputs)} outputs met" in table


def test_a_missed_golden_stops_the_gpu_script_and_names_the_output(tmp_path, golden):
    """The goldens' own numbers, one moved by 1e-3 (ten times the audio tolerance)."""
    moved = tmp_path / "golden"
    shutil.copytree(golden, moved)
    io = torch.load(moved / "waveglow" / "io.pt", map_location="cpu", weights_only=True)
    io["audio_sigma0"][0, 100] += 1e-3
    torch.save(io, moved / "waveglow" / "io.pt")
    done = gpu_bench(tmp_path / "out", moved)
    assert done.returncode == 1
    assert "fp32 on cpu misses the goldens: waveglow sigma0" in done.stderr
    report = json.loads((tmp_path / "out" / "gpu_bench.json").read_text())
    row = next(row for row in report["goldens"]["rows"] if row["output"] == "waveglow sigma0")
    assert not row["ok"] and 0.9e-3 < row["max_abs_diff"] < 1.1e-3
    assert "graphs_vs_steps" not in report and "rows" not in report  # it stopped at the goldens
