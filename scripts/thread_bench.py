"""CPU thread policies idle and beside busy processes: RTF of the default voice and of the
full-size int8 Tacotron2 + HiFi-GAN V2 pipeline, for the adaptive default, threads=1,
threads=2 and torch's own default before ttsfw chose (2 threads, libgomp's 300,000-spin wait).

    pip install -e plugins/ttsfw-hifigan
    python scripts/thread_bench.py --busy 2 --rounds 3 > table.md

Every cell is its own ``python -m ttsfw mode=bench`` process (OpenMP settings are fixed when
torch loads); rounds interleave the policies so that drift hits them alike; a cell is the
median over rounds of the bench's mean RTF. The busy processes are pure-Python spin loops that
this script starts for the loaded condition and stops after it (each also ends by itself after
--busy-limit seconds). Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PIPELINES = {
    "default voice (joe, Griffin-Lim), 110 characters": ["mode.input_length=110"],
    "int8 Tacotron2 + bf16 HiFi-GAN V2 (full size, random), 754 frames": [
        "acoustic.checkpoint=random", "acoustic.early_stopping=false",
        "acoustic.max_decoder_steps=754", "vocoder=hifigan_v2", "++vocoder.checkpoint=random",
        "quantize=int8", "precision=bf16",
    ],
}
#: name -> (overrides, extra environment)
POLICIES = {
    "adaptive (default)": ([], {}),
    "threads=1": (["device.threads=1"], {}),
    "threads=2": (["device.threads=2"], {}),
    "before: torch's default (2 threads, 300k spin)": (["device.threads=2"], {"GOMP_SPINCOUNT": "300000"}),
}


def bench_rtf(overrides: list[str], env: dict[str, str], work: Path) -> tuple[float, dict]:
    """One ``mode=bench`` process; its mean RTF and its thread report."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    command = [sys.executable, "-m", "ttsfw", "mode=bench", "mode.warmup=1", "mode.num_iters=3",
               "progress=false", f"hydra.run.dir={run_dir}", *overrides]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics["rtf"], metrics["threads"]


def start_busy(count: int, limit: float) -> list[subprocess.Popen]:
    loop = f"import time\nend = time.time() + {limit}\nwhile time.time() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="busy processes in the loaded condition")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-limit", type=float, default=1800, help="seconds a busy process lives at most")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()
    results: dict[tuple[str, str, str], list[float]] = {}
    reports: dict[tuple[str, str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for condition, busy in (("idle", 0), (f"{args.busy} busy processes", args.busy)):
            loaders = start_busy(busy, args.busy_limit)
            try:
                for _ in range(args.rounds):
                    for pipeline, overrides in PIPELINES.items():
                        for policy, (extra, env) in POLICIES.items():
                            rtf, threads = bench_rtf([*overrides, *extra], env, Path(tmp))
                            results.setdefault((pipeline, condition, policy), []).append(rtf)
                            reports[pipeline, condition, policy] = threads["stages"]
                            print(f"{condition} | {pipeline} | {policy}: RTF {rtf:.3f}", file=sys.stderr)
            finally:
                for loader in loaders:
                    loader.kill()
    print(table(results, args))
    if args.json:
        rows = [{"pipeline": p, "condition": c, "policy": q, "rtf": v, "threads": reports[p, c, q]}
                for (p, c, q), v in results.items()]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


def table(results: dict[tuple[str, str, str], list[float]], args: argparse.Namespace) -> str:
    """Markdown: one row per pipeline and condition, a column per policy (median RTF), and the
    adaptive default against the better of threads=1 and threads=2."""
    header = ["pipeline", "machine", *POLICIES, "default / best fixed"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for pipeline in PIPELINES:
        for condition in dict.fromkeys(c for _, c, _ in results):
            median = {q: statistics.median(results[pipeline, condition, q]) for q in POLICIES}
            best = min(median["threads=1"], median["threads=2"])
            cells = [f"{median[q]:.3f}" for q in POLICIES]
            lines.append(f"| {pipeline} | {condition} | " + " | ".join(cells)
                         + f" | {median['adaptive (default)'] / best:.2f} |")
    lines.append(f"\nRTF, median of {args.rounds} interleaved rounds (each the mean of 3 timed "
                 "iterations after 1 warm-up), lower is faster.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
