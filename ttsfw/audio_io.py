"""Reading input texts and writing audio files atomically (temp file + rename)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import ConfigError, InputError

FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: str = "wav") -> Path:
    """Write float audio (N,) in [-1, 1] (clipped) to `path` atomically.

    The file appears complete under its final name or not at all.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown audio format '{fmt}'; choose one of {', '.join(FORMATS)}")
    container, subtype = FORMATS[fmt]
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, format=container, subtype=subtype)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
        raise InputError("no text to speak: the input is empty (give text=\"...\" or input=FILE)")
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
        raise InputError(f"input file is not valid UTF-8: {path} (byte {exc.start}); re-save it as UTF-8") from None


def _stdin_is_piped() -> bool:
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)
