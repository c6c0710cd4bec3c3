"""scripts/gpu_bench.py, the GPU session's prepared run, works on a CPU in its quick form: the
graph check (blocks run eagerly), the benchmark rows and the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_script_runs_small_on_a_cpu_and_writes_its_table(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_bench.py"), "--out", str(tmp_path), "--device", "cpu", "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_bench.json").read_text())
    check = report["graphs_vs_steps"]
    assert check["max_abs_diff"] == 0.0 and check["blocks"] == 1 and check["same_chunk_count"]
    rows = [(row["system"], row["graph_steps"], row["batch"]) for row in report["rows"]]
    assert rows == [("ttsfw Tacotron2 + WaveGlow-256", 0, 1), ("ttsfw Tacotron2 + WaveGlow-256", 8, 2)]
    assert all(row["latency"] > 0 and row["audio_seconds"] > 0 for row in report["rows"])
    table = (tmp_path / "gpu_bench.md").read_text()
    assert "20 decoder steps forced" in table and table.count("| ttsfw Tacotron2 + ") == 2
