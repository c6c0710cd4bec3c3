"""``output=-``: the job streams raw PCM to stdout while it speaks, for pipes that play at once:

    python -m ttsfw say "Hello there." output=- | aplay -r 22050 -f FLOAT_LE -c 1

Samples are float32 little-endian, mono, at the voice's sample rate, the input lines one after
another (each line's sentences with the pause between them). Nothing else is written to
stdout; warnings and the summary go to stderr and metrics.json to the run directory.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, BinaryIO

from omegaconf import DictConfig

from .audio_io import check_writable, read_texts
from .engine import Engine
from .pipeline import Pipeline
from .reporting import versions, write_json
from .results import Failed
from .settings import job_settings
from .signals import stopped_by_signals
from .timing import StageTimer


def stream_to_stdout(cfg: DictConfig, choices: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """Speak every input line to stdout as raw float32 PCM (see the module doc)."""
    log_to_stderr()
    options = job_settings(cfg)
    check_writable(run_dir)
    lines = read_texts(cfg.text, cfg.input, cfg.default_text)
    todo = [i for i in range(options.shard, len(lines), options.num_shards) if lines[i].strip()]
    pipeline = Pipeline(cfg, choices)
    engine = Engine(pipeline, options, StageTimer(pipeline.device))
    metrics: dict[str, Any] = {"status": "failed", "output": "stdout", "sample_rate": pipeline.sample_rate,
                               "sample_format": "float32le", "choices": choices, "versions": versions()}
    samples, skipped, first = 0, {}, None
    start = time.perf_counter()
    try:
        with stopped_by_signals() as check_signals:
            for event in engine.stream_lines(lines, todo):
                check_signals()
                if isinstance(event, Failed):
                    skipped[event.line + 1] = event.reason
                    warnings.warn(f"line {event.line + 1} skipped: {event.reason}", stacklevel=2)
                    continue
                first = time.perf_counter() - start if first is None else first
                samples += len(event.audio)
                if not _write(sys.stdout.buffer, event.audio.astype("<f4").tobytes()):
                    metrics["status"] = "stopped: the reader closed the pipe"
                    break
            else:
                metrics["status"] = "complete"
    finally:
        elapsed = time.perf_counter() - start
        seconds = samples / pipeline.sample_rate
        metrics.update(audio_seconds=seconds, wall_seconds=elapsed, time_to_first_audio=first,
                       rtf=elapsed / seconds if seconds else None, skip_reasons=skipped)
        write_json(run_dir / "metrics.json", metrics)
    ttfa = f", first audio after {first * 1000:.0f} ms" if first is not None else ""
    print(f"ttsfw: {seconds:.1f} s of audio streamed to stdout ({pipeline.sample_rate} Hz float32 "
          f"mono){ttfa}", file=sys.stderr)
    return metrics


def log_to_stderr() -> None:
    """Point the root logger's console handlers at stderr: Hydra's job logging writes to stdout,
    where a plugin's log line (``INFO``) would land among the samples."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def _write(out: BinaryIO, data: bytes) -> bool:
    """Write and flush; False if the reader has gone (``| head -c``): stdout then points to
    /dev/null, so that Python's own flush at exit does not fail again."""
    try:
        out.write(data)
        out.flush()
        return True
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False
