"""The synthesis job behind ``python -m ttsfw``: texts in, audio files + metrics.json out."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .audio_io import AudioStream, OutputError, check_format, check_writable, os_problem, read_texts
from .engine import Engine
from .results import Failed, Piece, Spoken, Utterance
from .pipeline import Pipeline
from .plugins import get_plugin_manager, get_registry
from .reporting import versions, voice_line, write_json
from .settings import job_settings
from .signals import signals_deferred, stopped_by_signals
from .stdout_stream import stream_to_stdout
from .timing import StageTimer


def synthesize_job(cfg: DictConfig, choices: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """Speak every input line into `run_dir` (0001.wav, ... by line number) and write
    metrics.json beside the audio. With ``num_shards=N shard=K`` only lines whose 0-based
    number is K modulo N are spoken.

    Long lines are spoken sentence by sentence (``split``) and joined with ``pause`` seconds of
    silence. A line that cannot be spoken (blank, nothing speakable, a failed or non-finite
    synthesis) is skipped with a warning and listed with its reason in metrics.json; the run
    goes on. With ``resume=true`` lines whose file exists are not spoken again. The ``engine``
    group chooses where the lines are spoken (an :class:`Executor`: this process, Ray actors).
    ``output=-`` streams raw PCM to stdout instead (`stdout_stream.py`, in this process).
    First it prints which voice speaks (`voice_line`), on stderr."""
    print(voice_line(cfg, choices), file=sys.stderr)
    if cfg.output == "-":
        return stream_to_stdout(cfg, choices, run_dir)
    options = job_settings(cfg)
    check_format(cfg.format)
    check_writable(run_dir)
    lines = read_texts(cfg.text, cfg.input, cfg.default_text)
    mine = range(options.shard, len(lines), options.num_shards)
    width = max(4, len(str(len(lines))))
    paths = {i: run_dir / f"{i + 1:0{width}d}.{cfg.format}" for i in mine}
    skipped = {i: "blank line" for i in mine if not lines[i].strip()}
    resumed = [i for i in mine if i not in skipped and options.resume and paths[i].exists()]
    todo = [i for i in mine if i not in skipped and i not in resumed]
    executor = get_registry().get("engine", cfg.engine.name).load()(cfg, choices, lines, paths)
    metrics = _metrics_header(cfg, choices, executor.describe(), lines, todo)
    done = executor.done
    start = time.perf_counter()
    progress = tqdm(total=len(todo), unit="line", disable=not _show_progress(cfg, len(todo)))
    try:
        with stopped_by_signals() as check_signals:
            for line, problem in executor.speak(todo):
                check_signals()
                if problem:
                    skipped[line] = problem
                    warnings.warn(f"line {line + 1} skipped: {problem}", stacklevel=2)
                progress.update()
        metrics["status"] = "complete"
    except BaseException as exc:
        metrics["status"] = f"failed: {type(exc).__name__}"
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            print(
                f"ttsfw: stopped after {len(done)} of {len(todo)} file(s) in {run_dir}; rerun the "
                f"same command with resume=true (and hydra.run.dir={run_dir}) to finish",
                file=sys.stderr,
            )
        raise
    finally:
        progress.close()
        executor.close()
        metrics.update(
            skipped_lines=sorted(i + 1 for i in skipped),
            skip_reasons={str(i + 1): reason for i, reason in sorted(skipped.items())},
            resumed=[i + 1 for i in resumed],
        )
        _finish_metrics(metrics, done, executor.seconds, time.perf_counter() - start, width, cfg.format)
        metrics.update(executor.report())
        write_json(run_dir / "metrics.json", metrics)
    print(_summary_line(metrics, run_dir), file=sys.stderr)
    return metrics


def _summary_line(metrics: dict[str, Any], run_dir: Path) -> str:
    """What the user sees at the end: where the files are and how fast it went."""
    rtf = f", RTF {metrics['rtf']:.2f}" if metrics["rtf"] else ""
    skipped = f", {len(metrics['skipped_lines'])} line(s) skipped" if metrics["skipped_lines"] else ""
    return (
        f"ttsfw: {len(metrics['files'])} file(s), {metrics['audio_seconds']:.1f} s of audio in "
        f"{run_dir}{rtf}{skipped}"
    )


class Executor(Protocol):
    """Where the engine speaks a job's lines (``engine=NAME``, registered by
    ``ttsfw_register_engines``), built as ``executor(cfg, choices, lines, paths)``."""

    #: files finished, in the order they were written
    done: list[Written]

    @property
    def seconds(self) -> dict[str, float]:
        """Compute seconds per stage so far (summed over processes)."""

    def describe(self) -> dict[str, Any]:
        """What runs, for metrics.json: ``device``, ``sample_rate``, ``models``."""

    def speak(self, todo: list[int]) -> Iterator[tuple[int, str | None]]:
        """Speak the lines numbered `todo` (0-based) into their files: (line, None) for each
        file written (and recorded in `done`), (line, reason) for each line skipped."""

    def report(self) -> dict[str, Any]:
        """More for metrics.json at the end of the run (``threads``, ...)."""

    def close(self) -> None:
        """Release what the executor holds (processes, a cluster connection)."""


class LocalExecutor:
    """``engine=local``: one pipeline in this process."""

    def __init__(self, cfg: DictConfig, choices: dict[str, str], lines: list[str], paths: dict[int, Path]):
        self.pipeline = Pipeline(cfg, choices)
        self.engine = Engine(self.pipeline, self.pipeline.settings, StageTimer(self.pipeline.device))
        self.writer = LineWriter(self.pipeline, lines, paths, self.engine.pause)
        self.done = self.writer.done

    @property
    def seconds(self) -> dict[str, float]:
        return self.engine.timer.as_dict()

    def describe(self) -> dict[str, Any]:
        pipeline = self.pipeline
        return {"device": str(pipeline.device.device), "sample_rate": pipeline.sample_rate, "models": pipeline.models()}

    def speak(self, todo: list[int]) -> Iterator[tuple[int, str | None]]:
        return self.writer.write_all(self.engine.speak_lines(self.writer.lines, todo))

    def report(self) -> dict[str, Any]:
        return {"threads": self.pipeline.device.thread_report()}

    def close(self) -> None:
        pass


@dataclass
class Written:
    """One finished audio file: its input line (0-based) and length."""

    index: int
    samples: int
    sample_rate: int
    hit_max_decoder_steps: bool = False

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate


class LineWriter:
    """Streams the engine's pieces into one audio file per line (the pause between them),
    with the write hooks and plots; a file appears complete or not at all."""

    def __init__(self, pipeline: Pipeline, lines: list[str], paths: dict[int, Path], pause: np.ndarray):
        self.pipeline = pipeline
        self.lines = lines
        self.paths = paths
        self.pause = pause
        self.hooks = get_plugin_manager().hook
        #: files finished, in the order they were written
        self.done: list[Written] = []
        self._streams: dict[int, AudioStream] = {}
        self._hits: set[int] = set()

    def write_all(self, events: Iterator[Spoken | Failed]) -> Iterator[tuple[int, str | None]]:
        """Yield (line, None) for each file written (and recorded in `done`), (line, reason)
        for each line skipped."""
        try:
            for event in events:
                if isinstance(event, Failed):
                    if event.line in self._streams:
                        self._streams.pop(event.line).discard()
                    yield event.line, event.reason
                elif self._write(event.piece, event.utterance):
                    yield event.piece.line, None
        finally:
            for stream in self._streams.values():
                stream.discard()

    def _write(self, piece: Piece, utterance: Utterance) -> bool:
        """Add one piece to its line's file; True when that completed the file."""
        path = self.paths[piece.line]
        try:
            if piece.number == 0:
                with signals_deferred():  # a temp file is never open without its record
                    self._streams[piece.line] = AudioStream(path, utterance.sample_rate, self.pipeline.cfg.format)
            elif len(self.pause):
                self._streams[piece.line].write(self.pause)
            self.hooks.ttsfw_before_write(utterance=utterance, pipeline=self.pipeline)
            self._streams[piece.line].write(utterance.audio)
            if utterance.hit_max_decoder_steps:
                self._hits.add(piece.line)
            if self.pipeline.cfg.plots:
                from .plots import save_plots

                suffix = "" if piece.count == 1 else f"_{piece.number + 1:02d}"
                save_plots(utterance.mel, utterance.alignment, path.with_name(path.stem + suffix))
            if piece.number < piece.count - 1:
                return False
            with signals_deferred():  # the file and its record in `done` go together
                stream = self._streams.pop(piece.line)
                stream.commit()
                hit = piece.line in self._hits
                self.done.append(Written(piece.line, stream.samples, utterance.sample_rate, hit))
            whole = Utterance(piece.line, self.lines[piece.line], np.zeros(0, np.float32), utterance.sample_rate)
            self.hooks.ttsfw_after_write(utterance=whole, path=path, pipeline=self.pipeline)
            return True
        except OSError as exc:
            raise OutputError(os_problem(exc, path)) from None


def _show_progress(cfg: DictConfig, count: int) -> bool:
    if cfg.progress == "auto":
        return sys.stderr.isatty() and count > int(cfg.batch_size)
    return bool(cfg.progress)


def _metrics_header(cfg, choices, facts: dict[str, Any], lines, indices) -> dict[str, Any]:
    return {
        "status": "running",
        "utterances": len(indices),
        "lines": len(lines),
        "shard": int(cfg.shard),
        "num_shards": int(cfg.num_shards),
        "choices": choices,
        "device": facts["device"],
        "precision": cfg.precision,
        "batch_size": int(cfg.batch_size),
        "sample_rate": facts["sample_rate"],
        "models": facts["models"],
        "versions": versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _finish_metrics(
    metrics, done: list[Written], seconds: dict[str, float], wall: float, width: int, fmt: str
) -> None:
    audio_seconds = sum(u.seconds for u in done)
    samples = sum(u.samples for u in done)
    compute = sum(seconds.values())
    metrics.update(
        completed=sorted(u.index + 1 for u in done),
        files=[f"{u.index + 1:0{width}d}.{fmt}" for u in sorted(done, key=lambda u: u.index)],
        hit_max_decoder_steps=sorted(u.index + 1 for u in done if u.hit_max_decoder_steps),
        audio_seconds=audio_seconds,
        latency_seconds=seconds,
        compute_seconds=compute,
        wall_seconds=wall,
        audio_seconds_per_second=audio_seconds / wall if wall else None,
        rtf=compute / audio_seconds if audio_seconds else None,
        samples_per_second=samples / compute if compute else None,
    )

