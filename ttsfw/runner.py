"""The synthesis job behind ``python -m ttsfw``: texts in, audio files + metrics.json out."""

from __future__ import annotations

import errno
import itertools
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .audio_io import AudioStream, OutputError, check_format, read_texts
from .errors import ConfigError, InputError, TTSError
from .pipeline import Pipeline, Utterance, alignment
from .plugins import get_plugin_manager
from .segment import halve, split_sentences
from .reporting import versions, write_json
from .timing import StageTimer


def synthesize_job(cfg: DictConfig, choices: dict[str, str], run_dir: Path) -> dict[str, Any]:
    """Speak every input line into `run_dir` (0001.wav, ... by line number) and write
    metrics.json beside the audio. With ``num_shards=N shard=K`` only lines whose 0-based
    number is K modulo N are spoken.

    Long lines are spoken sentence by sentence (``split``) and joined with ``pause`` seconds of
    silence. A line that cannot be spoken (blank, nothing speakable, a failed or non-finite
    synthesis) is skipped with a warning and listed with its reason in metrics.json; the run
    goes on. With ``resume=true`` lines whose file exists are not spoken again."""
    options = JobOptions.from_config(cfg)
    check_format(cfg.format)
    check_writable(run_dir)
    lines = read_texts(cfg.text, cfg.input, cfg.default_text)
    mine = range(options.shard, len(lines), options.num_shards)
    width = max(4, len(str(len(lines))))
    paths = {i: run_dir / f"{i + 1:0{width}d}.{cfg.format}" for i in mine}
    skipped = {i: "blank line" for i in mine if not lines[i].strip()}
    resumed = [i for i in mine if i not in skipped and options.resume and paths[i].exists()]
    todo = [i for i in mine if i not in skipped and i not in resumed]
    pipeline = Pipeline(cfg, choices)
    speaker = Speaker(pipeline, options, StageTimer(pipeline.device))
    metrics = _metrics_header(cfg, choices, pipeline, lines, todo)
    done = speaker.done
    start = time.perf_counter()
    progress = tqdm(total=len(todo), unit="line", disable=not _show_progress(cfg, len(todo)))
    try:
        with stopped_by_sigterm():
            for line, problem in speaker.speak_lines(lines, todo, paths):
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
        metrics.update(
            skipped_lines=sorted(i + 1 for i in skipped),
            skip_reasons={str(i + 1): reason for i, reason in sorted(skipped.items())},
            resumed=[i + 1 for i in resumed],
        )
        _finish_metrics(
            metrics, done, speaker.timer, time.perf_counter() - start, width, cfg.format
        )
        metrics["threads"] = pipeline.device.thread_report()
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


@dataclass(frozen=True)
class JobOptions:
    """The job's own config values, type-checked (a wrong type is a one-line ConfigError)."""

    batch_size: int
    shard: int
    num_shards: int
    split: bool
    max_chars: int
    pause: float
    on_max_steps: str
    resume: bool

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "JobOptions":
        fields = {
            "batch_size": int,
            "shard": int,
            "num_shards": int,
            "split": bool,
            "max_chars": int,
            "pause": float,
            "on_max_steps": str,
            "resume": bool,
        }
        defaults = {
            "split": True,
            "max_chars": 250,
            "pause": 0.2,
            "on_max_steps": "retry_split",
            "resume": False,
        }
        values = {
            name: _typed(name, cfg.get(name, defaults.get(name)), kind)
            for name, kind in fields.items()
        }
        options = cls(**values)
        options.check()
        return options

    def check(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.shard < self.num_shards:
            raise ConfigError(
                f"shard must be in 0..num_shards-1 (num_shards={self.num_shards}), "
                f"got shard={self.shard}"
            )
        if self.max_chars < 1 or self.pause < 0:
            raise ConfigError(
                f"max_chars must be >= 1 and pause >= 0, got {self.max_chars} and {self.pause}"
            )
        if self.on_max_steps not in ON_MAX_STEPS:
            raise ConfigError(
                f"on_max_steps must be one of {', '.join(ON_MAX_STEPS)}, got '{self.on_max_steps}'"
            )


ON_MAX_STEPS = ("retry_split", "warn", "error")


def _typed(name: str, value: Any, kind: type) -> Any:
    """`value` as `kind`, or a ConfigError naming the option and an example."""
    if kind is bool and isinstance(value, bool) or kind is str and isinstance(value, str):
        return value
    if kind in (int, float) and not isinstance(value, bool):
        try:
            number = float(value)
            if kind is float or number == int(number):
                return kind(number)
        except (TypeError, ValueError, OverflowError):
            pass
    words = {int: "a whole number", float: "a number", bool: "true or false", str: "a word"}
    raise ConfigError(f"{name} must be {words[kind]}, got {value!r}; e.g. {name}={_EXAMPLES[name]}")


_EXAMPLES = {
    "batch_size": 4,
    "shard": 0,
    "num_shards": 2,
    "split": "true",
    "max_chars": 250,
    "pause": 0.2,
    "on_max_steps": "retry_split",
    "resume": "true",
}


def check_writable(run_dir: Path) -> None:
    """Make `run_dir` and check that files can be created in it (a one-line OutputError if not)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".ttsfw-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(_os_problem(exc, run_dir)) from None


def _os_problem(exc: OSError, path: Path) -> str:
    """What went wrong writing `path`, and what to do, in one line."""
    if exc.errno == errno.ENOSPC:
        return (
            f"no space left on the device writing {path}; free some space and rerun the same "
            f"command with resume=true, or write elsewhere with {RUN_DIR_HINT}"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"output directory is not writable: {path}; choose another with {RUN_DIR_HINT}"
    return f"cannot write {path}: {exc.strerror or exc}; choose another with {RUN_DIR_HINT}"


RUN_DIR_HINT = "hydra.run.dir=DIR"


@dataclass
class Spoken:
    """One finished audio file: its input line (0-based) and length."""

    index: int
    samples: int
    sample_rate: int
    hit_max_decoder_steps: bool = False

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate


@dataclass
class Piece:
    """A sentence (or clause) of an input line, encoded: ids (T_in,)."""

    line: int
    number: int
    count: int
    text: str
    ids: torch.Tensor


class Speaker:
    """Speaks input lines piece by piece in bounded windows of batches, streaming each line's
    audio into its file; memory holds one window, not the whole text."""

    WINDOW_BATCHES = 8

    def __init__(self, pipeline: Pipeline, options: JobOptions, timer: StageTimer):
        self.pipeline = pipeline
        self.options = options
        self.timer = timer
        self.generator = pipeline.device.generator(pipeline.cfg.seed)
        self.hooks = get_plugin_manager().hook
        #: files finished, in the order they were written
        self.done: list[Spoken] = []
        self.pause = np.zeros(round(options.pause * pipeline.sample_rate), np.float32)

    def speak_lines(
        self, lines: list[str], todo: list[int], paths: dict[int, Path]
    ) -> Iterator[tuple[int, str | None]]:
        """Yield (line, None) for each file written (and recorded in `done`), (line, reason)
        for each line skipped."""
        streams: dict[int, AudioStream] = {}
        hits: set[int] = set()
        failed: set[int] = set()
        pieces = self._pieces(lines, todo)
        try:
            while window := list(
                itertools.islice(pieces, self.options.batch_size * self.WINDOW_BATCHES)
            ):
                results = iter(self.speak([p for p in window if p.count]))
                for piece in window:
                    result = next(results) if piece.count else piece.text
                    if piece.line in failed:
                        continue
                    if isinstance(result, str):
                        failed.add(piece.line)
                        if piece.line in streams:
                            streams.pop(piece.line).discard()
                        yield piece.line, result
                    else:
                        yield from self._write(piece, result, streams, paths, hits)
        finally:
            for stream in streams.values():
                stream.discard()

    def speak(self, pieces: list[Piece], depth: int = 0) -> list[Utterance | str]:
        """Synthesise pieces in batches (longest first); each result is an Utterance, or the
        reason it failed. A batch that raises is retried item by item."""
        results: list[Utterance | str] = [""] * len(pieces)
        order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i].ids))
        size = self.options.batch_size
        for rows in (order[start : start + size] for start in range(0, len(order), size)):
            ids = torch.nn.utils.rnn.pad_sequence([pieces[i].ids for i in rows], batch_first=True)
            lengths = torch.tensor([len(pieces[i].ids) for i in rows])
            try:
                batch = self.pipeline.run_batch(ids, lengths, self.generator, self.timer)
            except TTSError:
                raise
            except Exception as exc:
                if len(rows) > 1:
                    for i in rows:
                        results[i] = self.speak([pieces[i]], depth)[0]
                else:
                    results[rows[0]] = f"synthesis failed: {type(exc).__name__}: {exc}"
                continue
            for row, i in enumerate(rows):
                results[i] = self._utterance(pieces[i], batch, row, depth)
        return results

    def _utterance(self, piece: Piece, batch: dict, row: int, depth: int) -> Utterance | str:
        frames = int(batch["mel_lengths"][row])
        if frames == 0:
            return (
                f"the acoustic model made no frames for {_preview(piece.text)} (it stopped at once)"
            )
        mel = batch["mel"][row, :, :frames]
        if not torch.isfinite(mel).all():
            return "the acoustic model produced NaN or Inf in the mel"
        audio = batch["audio"][row, : frames * self.pipeline.vocoder.hop_length].numpy()
        if not np.isfinite(audio).all():
            stage = "vocoder" if self.pipeline.denoiser is None else "vocoder or denoiser"
            return f"the {stage} produced NaN or Inf in the audio"
        utterance = Utterance(
            piece.line,
            piece.text,
            audio.astype(np.float32, copy=False),
            self.pipeline.sample_rate,
            mel=mel,
            alignment=alignment(batch, row, frames, len(piece.ids)),
            hit_max_decoder_steps=bool(batch["hit"][row]),
        )
        return (
            self._handle_max_steps(piece, utterance, depth)
            if utterance.hit_max_decoder_steps
            else utterance
        )

    def _handle_max_steps(self, piece: Piece, utterance: Utterance, depth: int) -> Utterance | str:
        """A piece cut at max_decoder_steps: retry it in halves, warn, or stop (on_max_steps)."""
        limit = self.pipeline.cfg.acoustic.get("max_decoder_steps")
        where = f"line {piece.line + 1}, sentence {piece.number + 1} ({_preview(piece.text)})"
        policy = self.options.on_max_steps
        if policy == "error":
            raise InputError(
                f"{where} reached acoustic.max_decoder_steps={limit}: its speech would be cut off; "
                "shorten it, raise acoustic.max_decoder_steps, or set on_max_steps=retry_split"
            )
        halves = (
            halve(piece.text)
            if policy == "retry_split" and depth < MAX_SPLIT_DEPTH
            else [piece.text]
        )
        if len(halves) == 2:
            parts = [
                Piece(
                    piece.line,
                    piece.number,
                    piece.count,
                    text,
                    self.pipeline.encode_each([text])[0],
                )
                for text in halves
            ]
            spoken = self.speak(parts, depth + 1)
            if all(isinstance(part, Utterance) for part in spoken):
                joined = np.concatenate([spoken[0].audio, self.pause, spoken[1].audio])
                return replace(
                    utterance,
                    audio=joined,
                    mel=None,
                    alignment=None,
                    hit_max_decoder_steps=any(p.hit_max_decoder_steps for p in spoken),
                )
        warnings.warn(
            f"{where} reached acoustic.max_decoder_steps={limit}; its speech is cut off there "
            "(raise acoustic.max_decoder_steps, or shorten the sentence)",
            stacklevel=2,
        )
        return utterance

    def _write(self, piece, utterance, streams, paths, hits) -> Iterator[tuple[int, None]]:
        path = paths[piece.line]
        try:
            if piece.number == 0:
                with _interrupt_deferred():  # a temp file is never open without its record
                    streams[piece.line] = AudioStream(
                        path, utterance.sample_rate, self.pipeline.cfg.format
                    )
            elif len(self.pause):
                streams[piece.line].write(self.pause)
            self.hooks.ttsfw_before_write(utterance=utterance)
            streams[piece.line].write(utterance.audio)
            if utterance.hit_max_decoder_steps:
                hits.add(piece.line)
            if self.pipeline.cfg.plots:
                from .plots import save_plots

                suffix = "" if piece.count == 1 else f"_{piece.number + 1:02d}"
                save_plots(utterance.mel, utterance.alignment, path.with_name(path.stem + suffix))
            if piece.number == piece.count - 1:
                with _interrupt_deferred():  # the file and its record in `done` go together
                    stream = streams.pop(piece.line)
                    stream.commit()
                    self.done.append(
                        Spoken(
                            piece.line, stream.samples, utterance.sample_rate, piece.line in hits
                        )
                    )
                whole = Utterance(piece.line, "", np.zeros(0, np.float32), utterance.sample_rate)
                self.hooks.ttsfw_after_write(utterance=whole, path=path)
                yield piece.line, None
        except OSError as exc:
            raise OutputError(_os_problem(exc, path)) from None

    def _pieces(self, lines: list[str], todo: list[int]) -> Iterator[Piece]:
        """Every line's pieces, encoded, in input order; a line with nothing speakable is
        yielded as a Piece of count 0 whose text is the reason."""
        for line in todo:
            texts = (
                split_sentences(lines[line], self.options.max_chars)
                if self.options.split
                else [lines[line].strip()]
            )
            encoded, problem = [], "nothing to speak"
            for text in texts:
                try:
                    with self.timer.stage("frontend"):
                        encoded.append((text, self.pipeline.encode_each([text])[0]))
                except InputError as exc:
                    problem = str(exc)
            if not encoded:
                yield Piece(line, 0, 0, problem, torch.zeros(0, dtype=torch.long))
            for number, (text, ids) in enumerate(encoded):
                yield Piece(line, number, len(encoded), text, ids)


MAX_SPLIT_DEPTH = 3


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM (kill, a batch scheduler) raises SystemExit(143), so that an
    ended run still cleans up and writes metrics.json, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: Any) -> None:
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block has run; raise KeyboardInterrupt then."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


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
        "choices": choices,
        "device": str(pipeline.device.device),
        "precision": cfg.precision,
        "batch_size": int(cfg.batch_size),
        "sample_rate": pipeline.sample_rate,
        "models": pipeline.models(),
        "versions": versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _finish_metrics(
    metrics, done: list[Spoken], timer: StageTimer, wall: float, width: int, fmt: str
) -> None:
    audio_seconds = sum(u.seconds for u in done)
    samples = sum(u.samples for u in done)
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

