"""Reading input texts, writing audio files atomically (temp file + rename), and what to say
when the output directory cannot be written."""

from __future__ import annotations

import errno
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf

from .errors import ConfigError, InputError, TTSError


class OutputError(TTSError):
    """The output directory cannot be written (permissions, full disk)."""


FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: str = "wav") -> Path:
    """Write float audio (N,) in [-1, 1] (clipped) to `path` atomically.

    The file appears complete under its final name or not at all.
    """
    container, subtype = _format(fmt)
    with _atomic(Path(path)) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, format=container, subtype=subtype)
    return Path(path)


class AudioStream:
    """An audio file written piece by piece, so that long audio never sits in memory whole.
    It appears complete under `path` when the `with` block ends normally, and not at all
    otherwise (an exception, Ctrl-C).

        with AudioStream(path, 22050, "wav") as stream:
            stream.write(piece)  # float (N,) in [-1, 1], clipped
    """

    def __init__(self, path: Path, sample_rate: int, fmt: str = "wav"):
        container, subtype = _format(fmt)
        self.path = Path(path)
        self.samples = 0
        self._tmp = _temp_path(self.path)
        self._file = sf.SoundFile(self._tmp, "w", sample_rate, 1, subtype, format=container)

    def write(self, audio: np.ndarray) -> None:
        """Append float audio (N,)."""
        self._file.write(np.clip(audio, -1.0, 1.0))
        self.samples += len(audio)

    def commit(self) -> None:
        """Close the file and give it its final name."""
        try:
            self._file.close()
            os.replace(self._tmp, self.path)
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and delete the temp file (nothing appears under `path`)."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AudioStream":
        return self

    def __exit__(self, error_type, *_) -> None:
        if error_type is None:
            self.commit()
        else:
            self.discard()


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; renamed to `path` on success, deleted otherwise."""
    tmp = _temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_temp_files(paths: Iterable[Path]) -> None:
    """Delete the temp files that writers of `paths` left behind (a killed process)."""
    paths = list(paths)
    names = {path.name for path in paths}
    for folder in {path.parent for path in paths}:
        for entry in folder.iterdir():
            match = re.fullmatch(r"\.(.+)\.\d+\.tmp", entry.name)
            if match and match.group(1) in names:
                entry.unlink(missing_ok=True)


def check_format(fmt: str) -> None:
    """Refuse an audio format that cannot be written (before any synthesis starts)."""
    _format(fmt)


def _format(fmt: str) -> tuple[str, str]:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown audio format '{fmt}'; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def read_texts(text: str | None, input_path: str | None, default_text: str) -> list[str]:
    """The utterances to speak: `text`, else the lines of `input_path` ("-" = stdin),
    else piped stdin, else `default_text`."""
    if text is not None:
        lines = [str(text)]
    elif input_path is not None:
        lines = _read_lines(str(input_path))
    elif _stdin_is_piped():
        lines = sys.stdin.read().splitlines() or [default_text]
    else:
        lines = [default_text]
    if not any(line.strip() for line in lines):
        raise InputError('no text to speak: the input is empty (give text="..." or input=FILE)')
    return lines


def _read_lines(source: str) -> list[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    path = Path(source).expanduser()
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input is a directory, not a text file: {path}") from None
    except PermissionError:
        raise InputError(f"input file is not readable (permission denied): {path}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"input file is not valid UTF-8: {path} (byte {exc.start}); re-save it as UTF-8"
        ) from None


def _stdin_is_piped() -> bool:
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def check_writable(run_dir: Path) -> None:
    """Make `run_dir` and check that files can be created in it (a one-line OutputError if not)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".ttsfw-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(os_problem(exc, run_dir)) from None


def make_output_dir(template: str, key: str = "hydra.run.dir") -> None:
    """Create the fixed part of a run directory template (``outputs/${now:...}`` -> ``outputs``)
    before Hydra does, so that an unusable one is a one-line OutputError (naming `key`, the
    option that chooses it), not a traceback."""
    fixed, interpolated, _ = template.partition("${")
    path = Path(fixed if not interpolated or fixed.endswith("/") else Path(fixed).parent).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(os_problem(exc, path, f"{key}=DIR")) from None


def os_problem(exc: OSError, path: Path, hint: str = "hydra.run.dir=DIR") -> str:
    """What went wrong writing `path`, and what to do, in one line."""
    if exc.errno == errno.ENOSPC:
        return (
            f"no space left on the device writing {path}; free some space and rerun the same "
            f"command with resume=true, or write elsewhere with {hint}"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"output directory is not writable: {path}; choose another with {hint}"
    return f"cannot write {path}: {exc.strerror or exc}; choose another with {hint}"
