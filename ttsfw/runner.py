"""The synthesis job behind ``python -m ttsfw``: texts in, audio files + metrics.json out."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from . import __version__
from .audio_io import read_texts, write_audio
from .errors import ConfigError
from .pipeline import Pipeline, Utterance
from .plugins import get_plugin_manager, plugin_infos
from .timing import StageTimer


def synthesize_job(cfg: DictConfig, choices: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """Speak every input line into `run_dir` (0001.wav, ... by line number) and write
    metrics.json beside the audio. Blank lines are skipped and reported. With
    ``num_shards=N shard=K`` only lines whose 0-based number is K modulo N are spoken."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = read_texts(cfg.text, cfg.input, cfg.default_text)
    shard, num_shards = int(cfg.shard), int(cfg.num_shards)
    if not 0 <= shard < num_shards:
        raise ConfigError(f"shard must be in 0..num_shards-1 (num_shards={num_shards}), got shard={shard}")
    mine = range(shard, len(lines), num_shards)
    indices = [i for i in mine if lines[i].strip()]
    width = max(4, len(str(len(lines))))
    pipeline = Pipeline(cfg, choices)
    hooks = get_plugin_manager().hook
    timer = StageTimer(pipeline.device)
    metrics = _metrics_header(cfg, choices, pipeline, lines, indices)
    done: list[Utterance] = []
    start = time.perf_counter()
    progress = tqdm(total=len(indices), unit="utt", disable=not _show_progress(cfg, len(indices)))
    try:
        batches = pipeline.iter_batches([lines[i] for i in indices], timer, indices)
        for batch in batches:
            for utterance in batch:
                hooks.ttsfw_before_write(utterance=utterance)
                path = run_dir / f"{utterance.index + 1:0{width}d}.{cfg.format}"
                write_audio(path, utterance.audio, utterance.sample_rate, cfg.format)
                if cfg.plots:
                    from .plots import save_plots

                    save_plots(utterance.mel, utterance.alignment, path.with_suffix(""))
                hooks.ttsfw_after_write(utterance=utterance, path=path)
                done.append(utterance)
            progress.update(len(batch))
        metrics["status"] = "complete"
    except BaseException as exc:
        metrics["status"] = f"failed: {type(exc).__name__}"
        raise
    finally:
        progress.close()
        _finish_metrics(metrics, done, timer, time.perf_counter() - start, width, cfg.format)
        _write_json(run_dir / "metrics.json", metrics)
    return metrics


def _show_progress(cfg: DictConfig, count: int) -> bool:
    if cfg.progress == "auto":
        return sys.stderr.isatty() and count > int(cfg.batch_size)
    return bool(cfg.progress)


def _metrics_header(cfg, choices, pipeline, lines, indices) -> dict[str, Any]:
    return {
        "status": "running",
        "utterances": len(indices),
        "lines": len(lines),
        "shard": int(cfg.shard),
        "num_shards": int(cfg.num_shards),
        "skipped_lines": [i + 1 for i in range(cfg.shard, len(lines), cfg.num_shards) if not lines[i].strip()],
        "choices": choices,
        "device": str(pipeline.device.device),
        "precision": cfg.precision,
        "batch_size": int(cfg.batch_size),
        "sample_rate": pipeline.sample_rate,
        "versions": {
            "ttsfw": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "plugins": {p.name: f"{p.distribution} {p.version}" for p in plugin_infos()},
        },
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _finish_metrics(metrics, done: list[Utterance], timer: StageTimer, wall: float, width: int, fmt: str) -> None:
    audio_seconds = sum(u.seconds for u in done)
    samples = sum(len(u.audio) for u in done)
    compute = sum(timer.seconds.values())
    metrics.update(
        completed=sorted(u.index + 1 for u in done),
        files=[f"{u.index + 1:0{width}d}.{fmt}" for u in sorted(done, key=lambda u: u.index)],
        hit_max_decoder_steps=sorted(u.index + 1 for u in done if u.hit_max_decoder_steps),
        audio_seconds=audio_seconds,
        latency_seconds=timer.as_dict(),
        compute_seconds=compute,
        wall_seconds=wall,
        rtf=compute / audio_seconds if audio_seconds else None,
        samples_per_second=samples / compute if compute else None,
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
