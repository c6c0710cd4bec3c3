"""``mode=bench``: the latency measurement of NVIDIA DLE's Tacotron2 ``test_infer.py``, on
any ttsfw pipeline.

Every iteration speaks `batch_size` copies of ``mode.text`` cut to ``mode.input_length``
characters (the lab's sentence, 166 characters by default); ``mode.warmup`` iterations run
first and are not counted, then ``mode.num_iters`` are timed, with the device synchronised
around each stage. bench.json (every iteration and the summary) and metrics.json (the
summary, for sweep summaries) go to the run directory; a table goes to stdout.

Percentiles are DLE's order statistic: the element at index ``int(n * P) - 1`` of the sorted
values (not interpolated; see :func:`order_statistic`).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .engine import Engine
from .results import Piece
from .bench_reference import PiperReference, bench_reference
from .bench_stream import measure_stream_iteration
from .errors import ConfigError, SynthesisError
from .pipeline import Pipeline, StageOutputs
from .sweep import format_number
from .reporting import versions, write_json
from .timing import StageTimer

#: summary percentiles: name -> fraction P
PERCENTILES: dict[str, float] = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
PERCENTILE_DEFINITION = "DLE order statistic: sorted(values)[int(n * P) - 1], not interpolated"
#: Tacotron2 options that decide how many decoder steps an iteration runs
DECODER_OPTIONS = ("early_stopping", "max_decoder_steps")


def order_statistic(values: Iterable[float], fraction: float) -> float:
    """DLE test_infer's percentile: ``max(sorted(values)[:int(n * fraction)])``, i.e. the
    element at index ``int(n * fraction) - 1`` of the sorted values. With n = 1000 the
    p50/p90/p95/p99 are elements 499/899/949/989. Where ``int(n * fraction)`` is 0 (too few
    values; DLE would fail) the smallest value is returned."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("order_statistic of no values")
    return ordered[max(int(len(ordered) * fraction), 1) - 1]


def summarize(values: list[float]) -> dict[str, float]:
    """mean, std (population, as np.std), p50, p90, p95, p99 and max of one metric."""
    summary = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    summary.update({name: float(order_statistic(values, p)) for name, p in PERCENTILES.items()})
    summary["max"] = float(max(values))
    return summary


def bench_text(cfg: DictConfig) -> str:
    """``mode.text`` cut to ``mode.input_length`` characters."""
    if cfg.get("text") is not None or cfg.get("input") is not None:
        raise ConfigError(
            "mode=bench speaks mode.text (the lab's sentence) cut to mode.input_length characters; "
            "set mode.text=... instead of text=/input="
        )
    text, length = str(cfg.mode.text), int(cfg.mode.input_length)
    if not 1 <= length <= len(text):
        raise ConfigError(
            f"mode.input_length must be 1..{len(text)} (the length of mode.text), got {length}"
        )
    return text[:length]


def measure_iteration(engine: Engine, texts: list[str]) -> tuple[dict[str, float], str | None]:
    """Speak `texts` through the engine as one batch; return this iteration's numbers (seconds
    unless named) and why a row could not be spoken, if one could not (random weights: often
    "no frames"). A row cut at max_decoder_steps is counted, not retried.

    ``latency`` = acoustic + vocoder + denoiser (DLE's ``latency``); audio counts every item's
    full T_out frames (DLE's ``num_samples``: B x vocoder output length)."""
    pipeline = engine.pipeline
    timer = engine.timer = StageTimer(pipeline.device)
    batches: list[StageOutputs] = []
    engine.on_batch = batches.append
    with timer.stage("pre_processing"):
        pieces = [Piece(i, 0, 1, text, ids) for i, (text, ids) in enumerate(zip(texts, pipeline.encode_each(texts)))]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached acoustic.max_decoder_steps")  # counted below
        results = engine.speak(pieces)
    if not batches:  # every batch raised: nothing was computed to time
        raise SynthesisError(f"mode=bench: the bench text cannot be spoken: {results[0]}")
    seconds = timer.as_dict()
    frames = max(batch.mel.shape[2] for batch in batches)
    samples = sum(batch.audio.numel() for batch in batches)
    stages = {
        f"{stage}_latency": seconds[stage]
        for stage in ("acoustic", "vocoder", "denoiser")
        if stage in seconds
    }
    latency = sum(stages.values())
    audio_seconds = samples / pipeline.sample_rate
    return {
        "pre_processing": seconds["pre_processing"],
        **stages,
        "latency": latency,
        "mel_frames": float(frames),
        "audio_seconds": audio_seconds,
        "samples_per_second": samples / latency,
        "rtf": latency / audio_seconds,
        "decoder_ms_per_step": 1000.0 * seconds["acoustic"] / frames,
        "acoustic_frames_per_second": len(texts) * frames / seconds["acoustic"],
        "vocoder_samples_per_second": samples / seconds["vocoder"],
        "hit_max_decoder_steps": float(sum(int(batch.hit_max_steps.sum()) for batch in batches)),
        # rows that fail the engine's checks (no frames, NaN) still count, as in DLE
        "unspeakable_rows": float(sum(isinstance(result, str) for result in results)),
    }, next((result for result in results if isinstance(result, str)), None)


def run_benchmark(
    pipeline: Pipeline,
    text: str,
    batch_size: int,
    warmup: int,
    num_iters: int,
    progress: bool = False,
    stream: bool = False,
    reference: PiperReference | None = None,
) -> tuple[dict[str, list[float]], str | None]:
    """Run `warmup` + `num_iters` iterations (`stream`: as streams, `bench_stream.py`; with a
    `reference`, each iteration's texts are then spoken by it too, `bench_reference.py`); return
    each timed iteration's numbers by name (per-row numbers one per row), and the last reason a
    row could not be spoken (None if every row was)."""
    if num_iters < 1 or warmup < 0 or batch_size < 1:
        raise ConfigError(
            f"mode=bench needs mode.num_iters >= 1, mode.warmup >= 0 and batch_size >= 1; "
            f"got {num_iters}, {warmup} and {batch_size}"
        )
    options = replace(pipeline.settings, batch_size=batch_size, on_max_steps="warn")
    engine = Engine(pipeline, options, StageTimer(pipeline.device))
    timed: dict[str, list[float]] = {}
    problem = None
    for iteration in tqdm(range(warmup + num_iters), unit="iter", disable=not progress):
        if iteration == warmup:
            pipeline.device.reset_peak_memory()
        measure = measure_stream_iteration if stream else measure_iteration
        numbers, reason = measure(engine, [text] * batch_size)
        if reference is not None:
            numbers.update(reference.measure([text] * batch_size))
            numbers["speed_vs_reference"] = numbers["reference_rtf"] / numbers["rtf"]
        problem = reason or problem
        if iteration >= warmup:
            for name, value in numbers.items():
                timed.setdefault(name, []).extend(value if isinstance(value, list) else [value])
    return timed, problem


def bench_job(cfg: DictConfig, choices: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """The Hydra job of ``mode=bench``: measure, write bench.json + metrics.json, print a table."""
    run_dir.mkdir(parents=True, exist_ok=True)
    report = benchmark_report(cfg, choices)
    write_json(run_dir / "bench.json", report)
    metrics = headline(report)
    write_json(run_dir / "metrics.json", metrics)
    print(format_report(report, run_dir))
    return metrics


def benchmark_report(cfg: DictConfig, choices: dict[str, str]) -> dict[str, Any]:
    """Build the pipeline of `cfg`, run the benchmark; return every number and the run's facts."""
    if cfg.engine.name != "local":
        raise ConfigError(f"mode=bench times one pipeline in this process; drop engine={cfg.engine.name}")
    text = bench_text(cfg)
    reference = bench_reference(cfg)
    pipeline = Pipeline(cfg, choices)
    progress = cfg.progress is True or (cfg.progress == "auto" and sys.stderr.isatty())
    timed, problem = run_benchmark(
        pipeline, text, int(cfg.batch_size), int(cfg.mode.warmup), int(cfg.mode.num_iters), progress,
        cfg.mode.stream, reference,
    )
    hits = timed.pop("hit_max_decoder_steps")
    unspeakable = timed.pop("unspeakable_rows")
    return {
        "deviation_from_fp32": fp32_deviation(pipeline, text, cfg.precision),
        "status": "complete",
        "mode": "bench",
        "stream": cfg.mode.stream,
        "choices": choices,
        "device": str(pipeline.device.device),
        "device_description": pipeline.device.describe(),
        "precision": cfg.precision,
        "batch_size": int(cfg.batch_size),
        "input_length": len(text),
        "text": text,
        "warmup": int(cfg.mode.warmup),
        "num_iters": int(cfg.mode.num_iters),
        "threads": pipeline.device.thread_report(),
        "reference": None if reference is None else reference.describe(),
        "quantize": pipeline.cfg.get("quantize", "none"),
        "models": pipeline.models(),  # what each component actually computes in ("formats")
        "sample_rate": pipeline.sample_rate,
        "decoder": {k: cfg.acoustic[k] for k in DECODER_OPTIONS if k in cfg.acoustic},
        "hit_max_decoder_steps": int(sum(hits)),
        "unspeakable_rows": int(sum(unspeakable)),
        "unspeakable_reason": problem,
        "peak_memory_bytes": pipeline.device.peak_memory_bytes(),
        "percentiles": PERCENTILE_DEFINITION,
        "summary": {name: summarize(values) for name, values in timed.items()},
        "iterations": timed,
        "versions": versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }



def fp32_deviation(pipeline: Pipeline, text: str, precision: str) -> dict[str, float] | None:
    """How far the acoustic model's fast mode (bf16 or int8 weights, autocast) moves its mel
    from the fp32 one on the bench text, where the model can tell (``deviation_from_fp32``)."""
    measure = getattr(pipeline.acoustic, "deviation_from_fp32", None)
    if measure is None:
        return None
    ids = pipeline.encode_each([text])[0][None].to(pipeline.device.device)
    lengths = torch.tensor([ids.shape[1]], device=pipeline.device.device)
    with torch.inference_mode(), pipeline.device.autocast(precision):
        return measure(ids, lengths)


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The flat metrics.json of a bench run: means, latency spread, run facts (no iterations)."""
    summary = report["summary"]
    means = {name: stats["mean"] for name, stats in summary.items() if name != "latency"}
    spread = {f"latency_{k}": v for k, v in summary["latency"].items()}
    nested = ("summary", "iterations", "text", "deviation_from_fp32")
    facts = {k: v for k, v in report.items() if k not in nested}
    return {**facts, **means, **spread, **(report["deviation_from_fp32"] or {})}


def format_report(report: dict[str, Any], run_dir: Path) -> str:
    """A readable table: one row per metric, mean/std/percentiles/max as columns."""
    columns = ["mean", "std", *PERCENTILES, "max"]
    lines = [
        f"ttsfw bench: {report['device_description']}, {report['precision']}, batch_size "
        f"{report['batch_size']}, {report['input_length']} characters, {report['num_iters']} "
        f"iterations after {report['warmup']} warm-up",
        "pipeline: " + ", ".join(f"{k}={v}" for k, v in report["choices"].items() if k != "mode"),
    ]
    if report["decoder"]:
        lines.append("decoder: " + ", ".join(f"{k}={v}" for k, v in report["decoder"].items()))
        if report["decoder"].get("early_stopping"):
            lines.append(
                "note: the stop gate decides the frame count; for the lab's fixed workload use "
                "acoustic.early_stopping=false acoustic.max_decoder_steps=754"
            )
    lines.append(f"{'metric':<28}" + "".join(f"{c:>12}" for c in columns))
    for name, stats in report["summary"].items():
        lines.append(f"{name:<28}" + "".join(f"{format_number(stats[c]):>12}" for c in columns))
    if report["deviation_from_fp32"] is not None:
        lines.append(
            "mel deviation from fp32 (prenet dropout off): "
            + ", ".join(f"{k} {v:.3g}" for k, v in report["deviation_from_fp32"].items())
        )
    if report["reference"] is not None:
        ref = report["reference"]
        lines.append(
            f"reference: {ref['name']} ({ref['voice']}, {ref['runtime']}, {ref['threads']} threads); "
            f"speed_vs_reference = reference rtf / rtf, per iteration (above 1: ttsfw is faster)"
        )
    if report["unspeakable_rows"]:
        lines.append(
            f"rows the engine could not speak (still timed, as DLE): {report['unspeakable_rows']}, "
            f"e.g. {report['unspeakable_reason']}"
        )
    if report["peak_memory_bytes"] is not None:
        lines.append(f"peak memory: {report['peak_memory_bytes'] / 2**20:,.1f} MiB")
    lines.append(f"percentiles: {report['percentiles']}")
    lines.append(f"written: {run_dir / 'bench.json'}")
    return "\n".join(lines)
