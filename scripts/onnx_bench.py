"""runtime=onnxruntime against torch eager on the same weights, on this CPU: decoder ms/step
(fp32 and int8), vocoder RTF (WaveGlow-256, HiFi-GAN V1) and time to first audio when
streaming (``mode.stream=true``), full-size random weights.

    pip install -e '.[export]' -e plugins/ttsfw-hifigan
    python scripts/onnx_bench.py --rounds 3 --threads 1 > table.md

Each pipeline is exported once (``python -m ttsfw export``, the same ``checkpoint=random``
weights the torch cells build). Every cell is its own ``python -m ttsfw mode=bench`` process;
rounds interleave torch and onnxruntime so that drift on a shared machine hits both alike; a
cell is the median over rounds of the bench's median (p50). The decoder cells run a Griffin-Lim
of one iteration after the decoder (its time is not counted). Not a test: the numbers depend on
the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TACOTRON2 = ["acoustic.checkpoint=random", "acoustic.early_stopping=false"]
WAVEGLOW = ["vocoder=waveglow_256", "vocoder.checkpoint=random", "denoiser=none"]
HIFIGAN = ["vocoder=hifigan_v1", "++vocoder.checkpoint=random"]
#: cell family -> (its export's overrides, its bench overrides, mel frames an iteration decodes)
PIPELINES = {
    "decoder": (["vocoder=griffinlim", "vocoder.n_iter=1"], [], 400),
    "WaveGlow-256": (WAVEGLOW, [], 100),
    "HiFi-GAN V1": (HIFIGAN, [], 400),
    "streaming, HiFi-GAN V1": (HIFIGAN, ["mode.stream=true"], 400),
}
#: cell family -> (metric, how it is read off a bench's p50s)
METRICS = {
    "decoder": ("decoder ms/step", lambda p50: p50["decoder_ms_per_step"]),
    "WaveGlow-256": ("vocoder RTF", lambda p50: p50["vocoder_latency"] / p50["audio_seconds"]),
    "HiFi-GAN V1": ("vocoder RTF", lambda p50: p50["vocoder_latency"] / p50["audio_seconds"]),
    "streaming, HiFi-GAN V1": ("time to first audio, s", lambda p50: p50["time_to_first_audio"]),
}
RUNTIMES = ("torch", "onnxruntime")


def ttsfw(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "ttsfw", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"python -m ttsfw {' '.join(args)} failed:\n{done.stderr}")


def bench(overrides: list[str], work: Path) -> dict[str, float]:
    """One ``mode=bench`` process: the p50 of each of its metrics."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    ttsfw("mode=bench", "mode.warmup=1", "mode.num_iters=3", "progress=false",
          f"hydra.run.dir={run_dir}", *overrides)
    summary = json.loads((run_dir / "bench.json").read_text())["summary"]
    return {name: stats["p50"] for name, stats in summary.items()}


def cells() -> list[tuple[str, str, str]]:
    """(pipeline, runtime, quantize) of every cell."""
    found = []
    for pipeline in PIPELINES:
        for runtime in RUNTIMES:
            for quantize in ("none", "int8") if pipeline == "decoder" else ("none",):
                found.append((pipeline, runtime, quantize))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="device.threads of every cell")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="onnx-bench-"))
    exported: dict[tuple[str, ...], Path] = {}
    for overrides, _, _ in PIPELINES.values():
        if tuple(overrides) not in exported:
            exported[tuple(overrides)] = work / f"export{len(exported)}"
            ttsfw("export", f"out={exported[tuple(overrides)]}", *TACOTRON2, *overrides)
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {cell: [] for cell in cells()}
    for _ in range(args.rounds):
        for pipeline, runtime, quantize in cells():
            overrides, bench_overrides, frames = PIPELINES[pipeline]
            cell_overrides = [
                *TACOTRON2, *overrides, *bench_overrides, f"acoustic.max_decoder_steps={frames}",
                f"quantize={quantize}", f"device.threads={args.threads}", f"runtime={runtime}",
            ]
            if runtime == "onnxruntime":
                cell_overrides.append(f"runtime.dir={exported[tuple(overrides)]}")
            results[pipeline, runtime, quantize].append(bench(cell_overrides, work))
    print(f"threads={args.threads}, median of {args.rounds} rounds of the bench's p50\n")
    print("| pipeline | quantize | metric | torch | onnxruntime | torch / onnxruntime |")
    print("|---|---|---|---|---|---|")
    for pipeline, runtime, quantize in cells():
        if runtime != "torch":
            continue
        metric, read = METRICS[pipeline]
        values = [statistics.median(read(r) for r in results[pipeline, name, quantize]) for name in RUNTIMES]
        print(f"| {pipeline} | {quantize} | {metric} | {values[0]:.3g} | {values[1]:.3g} | "
              f"{values[0] / values[1]:.2f} |")


if __name__ == "__main__":
    main()
