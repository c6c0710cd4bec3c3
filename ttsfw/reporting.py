"""What every run records beside its results: the voice it speaks with, versions, and JSON
files written atomically."""

from __future__ import annotations

import json
import os
import platform
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from . import __version__


def versions() -> dict[str, Any]:
    """ttsfw, torch, Python and every loaded plugin's distribution and version."""
    import torch

    from .plugins import plugin_infos

    return {
        "ttsfw": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "plugins": {p.name: f"{p.distribution} {p.version}" for p in plugin_infos()},
    }


def voice_line(cfg: Any, choices: dict[str, str]) -> str:
    """The one line a synthesis job prints first, naming what speaks: the voice option and
    the stages it came to (a stage chosen on the command line shows as chosen), e.g.
    ``ttsfw: voice: joe_hifigan = tacotron2 ttsfw_joe (postfilter ttsfw_joe_postfilter) +
    hifigan_v1 hifigan_v1_universal`` (the acoustic model's postfilters in brackets:
    `fine_structure_gain` other than 1, a learned `postfilter`)."""

    def stage(group: str) -> str:
        checkpoint = cfg[group].get("checkpoint")
        gain = cfg[group].get("fine_structure_gain", 1.0)
        learned = cfg[group].get("postfilter")
        postfilters = [f"fine structure x{gain:g}"] if gain not in (None, 1.0) else []
        postfilters += [f"postfilter {learned}"] if learned else []
        return (
            choices[group]
            + (f" {checkpoint}" if checkpoint else "")
            + (f" ({', '.join(postfilters)})" if postfilters else "")
        )

    stages = [stage("acoustic"), stage("vocoder")]
    if choices.get("denoiser", "none") != "none":
        stages.append(choices["denoiser"])
    return f"ttsfw: voice: {choices.get('voice') or '(none)'} = {' + '.join(stages)}"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def failure_recorded(run_dir: Path, mode: str, choices: dict[str, str]) -> Iterator[None]:
    """A job that fails leaves its run dir holding a metrics.json that says why (its own
    metrics, if it wrote any, with ``status: failed: <Error>`` and ``error``), never an empty
    dir. Ctrl-C and SIGTERM are recorded too."""
    try:
        yield
    except BaseException as exc:
        path = run_dir / "metrics.json"
        try:
            metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            metrics.setdefault("mode", mode)
            metrics.setdefault("choices", choices)
            metrics.update(status=f"failed: {type(exc).__name__}", error=str(exc) or type(exc).__name__)
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(path, metrics)
        except (OSError, ValueError):
            pass  # an unwritable run dir: the error itself says so
        raise
