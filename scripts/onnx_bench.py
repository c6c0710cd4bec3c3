"""runtime=onnxruntime against torch eager on the same weights, in one process on this CPU:
decoder ms/step (fp32 and int8), vocoder RTF (WaveGlow-256, HiFi-GAN V1) and time to first
audio when streaming, full-size random weights (NVIDIA's architectures).

    pip install -e '.[export]' -e plugins/ttsfw-hifigan
    python scripts/onnx_bench.py --rounds 5 --threads 1 > table.md

Each pipeline is exported once (what ``python -m ttsfw export`` does) from the same
``checkpoint=random`` weights the torch pipelines build. The pipelines are built side by side
and measured in rounds, one measurement of each per round, so that drift on a shared machine
hits them alike; a cell is the median over rounds. The input is the benchmark's sentence (the
lab's 166 characters) with early stopping off: `--steps` decoder steps; the vocoders get the
first `--vocoder-frames` of its mel. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

from ttsfw.threads import SPIN_COUNT

os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)  # before torch loads, as the CLI does

import torch  # noqa: E402

from ttsfw.components.onnx.export import OPSET, export_pipeline  # noqa: E402
from ttsfw.config import compose_config  # noqa: E402
from ttsfw.pipeline import Pipeline  # noqa: E402
from ttsfw.timing import StageTimer  # noqa: E402

VOCODERS = {
    "HiFi-GAN V1": ["vocoder=hifigan_v1", "vocoder.checkpoint=random"],
    "WaveGlow-256": ["vocoder=waveglow_256", "vocoder.checkpoint=random", "denoiser=none"],
}


def build(overrides: list[str], directory: Path, quantize: tuple[str, ...]) -> dict[str, Pipeline]:
    """Export the pipeline of `overrides` to `directory`; its torch and onnxruntime pipelines
    for each `quantize` (none: fp32; int8: int8 decoder steps), by "RUNTIME QUANTIZE"."""
    cfg, choices = compose_config(overrides)
    export_pipeline(cfg, choices, directory, OPSET)
    runtimes = {"torch": [], "onnxruntime": ["runtime=onnxruntime", f"runtime.dir={directory}"]}
    return {
        f"{runtime} {q}": Pipeline.from_overrides([*overrides, *extra, f"quantize={q}"])
        for runtime, extra in runtimes.items()
        for q in quantize
    }


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def decoder_ms_per_step(pipeline: Pipeline, ids: torch.Tensor, lengths: torch.Tensor) -> float:
    steps = pipeline.acoustic.config.max_decoder_steps
    return 1000 * seconds(lambda: pipeline.acoustic.mels(ids, lengths)) / steps


def vocoder_rtf(pipeline: Pipeline, mel: torch.Tensor) -> float:
    audio_seconds = mel.size(2) * pipeline.vocoder.hop_length / pipeline.sample_rate
    return seconds(lambda: pipeline.vocoder.infer(mel)) / audio_seconds


def time_to_first_audio(pipeline: Pipeline, ids: torch.Tensor, lengths: torch.Tensor) -> float:
    """Seconds until `stream_batch` gives its first audio (the decoder then stops)."""
    start = time.perf_counter()
    stream = pipeline.stream_batch(ids, lengths, torch.Generator().manual_seed(0), StageTimer(pipeline.device))
    next(stream)
    elapsed = time.perf_counter() - start
    stream.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="device.threads of every pipeline")
    parser.add_argument("--steps", type=int, default=400, help="decoder steps per measurement")
    parser.add_argument("--vocoder-frames", type=int, default=100, help="mel frames per vocoder call")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # random weights, say the pipelines
    work = Path(tempfile.mkdtemp(prefix="onnx-bench-"))
    common = [
        "acoustic.checkpoint=random", "acoustic.early_stopping=false",
        f"acoustic.max_decoder_steps={args.steps}", f"device.threads={args.threads}",
    ]
    hifigan = build([*common, *VOCODERS["HiFi-GAN V1"]], work / "hifigan", ("none", "int8"))
    waveglow = build([*common, *VOCODERS["WaveGlow-256"]], work / "waveglow", ("none",))
    text = compose_config(["mode=bench"])[0].mode.text[:166]
    ids = hifigan["torch none"].encode_each([text])[0][None]
    lengths = torch.tensor([ids.size(1)])
    cells: dict[tuple[str, str], Callable[[], float]] = {}
    with torch.inference_mode():
        mel = hifigan["torch none"].acoustic.mels(ids, lengths).mel[:, :, : args.vocoder_frames]
        for variant, pipeline in hifigan.items():
            cells["decoder ms/step", variant] = lambda p=pipeline: decoder_ms_per_step(p, ids, lengths)
        for name, family in (("HiFi-GAN V1", hifigan), ("WaveGlow-256", waveglow)):
            for variant in ("torch none", "onnxruntime none"):
                cells[f"{name} RTF", variant] = lambda p=family[variant]: vocoder_rtf(p, mel)
        for variant in ("torch none", "onnxruntime none"):
            cells["streaming TTFA, s (HiFi-GAN V1)", variant] = lambda p=hifigan[variant]: time_to_first_audio(
                p, ids, lengths
            )
        for measure in cells.values():  # warm-up
            measure()
        results: dict[tuple[str, str], list[float]] = {cell: [] for cell in cells}
        for _ in range(args.rounds):
            for cell, measure in cells.items():
                results[cell].append(measure())
    print(f"threads={args.threads}, {args.steps} decoder steps, batch 1, median of {args.rounds} rounds\n")
    print("| metric | quantize | torch | onnxruntime | torch / onnxruntime |")
    print("|---|---|---|---|---|")
    for metric, variant in results:
        if variant.startswith("torch"):
            quantize = variant.split()[1]
            mine, theirs = (statistics.median(results[metric, f"{r} {quantize}"]) for r in ("torch", "onnxruntime"))
            print(f"| {metric} | {quantize} | {mine:.3g} | {theirs:.3g} | {mine / theirs:.2f} |")


if __name__ == "__main__":
    main()
