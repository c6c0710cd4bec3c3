"""Command line: ``python -m ttsfw [overrides...]`` (a Hydra app) and a few subcommands.

    python -m ttsfw text="Hello, world." vocoder=griffinlim device=cpu  # any text, as typed
    python -m ttsfw say "Hello, world." batch_size=2                # the same, shorter
    python -m ttsfw -m vocoder=waveglow,hifigan batch_size=1,4      # Hydra multirun
    python -m ttsfw plugins                                         # installed plugins
    python -m ttsfw convert SRC DST [--trust]                       # legacy WaveGlow pickles
    python -m ttsfw download NAME                                   # fetch published weights
    python -m ttsfw serve [overrides]                               # the HTTP server (docs/serving.md)

Errors that the user can fix print one line (``ttsfw: error: ...``) and exit with status 1;
set TTSFW_TRACEBACK=1 to see the traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from . import sweep
from .argv import literal_text_overrides, say_args
from .audio_io import make_output_dir
from .config import CONF_DIR, check_choices, check_keys, register_with_hydra
from .errors import TTSError
from .plugins import get_registry
from .reporting import failure_recorded
from .threads import SPIN_COUNT, share_cores_between_parallel_jobs


def plugins_command(argv: list[str]) -> int:
    """Print every loaded plugin with its distribution, version, hooks and components."""
    from .plugins import plugin_infos

    for info in plugin_infos():
        print(f"{info.name}  ({info.distribution} {info.version})")
        print(f"  hooks: {', '.join(info.hooks) or '-'}")
        for kind, names in info.components.items():
            print(f"  {kind}: {', '.join(names)}")
    return 0


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def app(cfg: DictConfig) -> None:
    """The Hydra task: run the selected mode in this job's output directory."""
    runtime = HydraConfig.get().runtime
    choices = {k: v for k, v in runtime.choices.items() if not k.startswith("hydra/")}
    mode = cfg.mode.name
    job = _report_errors(lambda: get_registry().get("mode", mode).load())
    # in a sweep, a failed job is reported and the other jobs (and the summary) still run
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    run_dir = Path(runtime.output_dir)
    if multirun:
        share_cores_between_parallel_jobs(cfg, HydraConfig.get().launcher)

    def recorded_job() -> None:
        with failure_recorded(run_dir, mode, choices):
            job(cfg, choices, run_dir)

    _report_errors(recorded_job, exit=not multirun)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: ``ttsfw: warning: ...`` (the source line is for developers)."""
    return f"ttsfw: warning: {message}\n"


def fail(message: str) -> None:
    print(f"ttsfw: error: {message}", file=sys.stderr)
    sys.exit(1)


def _report_errors(action: Callable[[], object], exit: bool = True) -> object:
    """Run `action`; a user-fixable error becomes one line on stderr (and exit status 1)."""
    try:
        return action()
    except KeyboardInterrupt:
        if os.environ.get("TTSFW_TRACEBACK"):
            raise
        print("ttsfw: interrupted", file=sys.stderr)
        sys.exit(130)
    except (TTSError, FloatingPointError) as exc:
        if os.environ.get("TTSFW_TRACEBACK"):
            raise
        if exit:
            fail(str(exc))
        print(f"ttsfw: error: {exc}", file=sys.stderr)  # a sweep job: the summary lists it
        return None


def _output_dir(argv: list[str]) -> tuple[str, str]:
    """The run (or, with -m, sweep) directory the user chose, else conf/config.yaml's default,
    and the option that chooses it."""
    key = "hydra.sweep.dir" if MULTIRUN & set(argv) else "hydra.run.dir"
    chosen = [arg.split("=", 1)[1] for arg in argv if arg.lstrip("+").startswith(f"{key}=")]
    return (chosen[-1] if chosen else DEFAULT_OUTPUT_DIRS[key]), key


#: Hydra's flags that run a sweep, show something and run no job, or complete a shell word
MULTIRUN = {"-m", "--multirun"}
SHOW_ONLY = {"-c", "--cfg", "-i", "--info", "-h", "--help", "--hydra-help"}
COMPLETION = {"-sc", "--shell-completion"}

#: conf/config.yaml's hydra.run.dir and hydra.sweep.dir (tests/test_cli.py keeps them equal)
DEFAULT_OUTPUT_DIRS = {
    "hydra.run.dir": "outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}",
    "hydra.sweep.dir": "outputs/multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "torch" not in sys.modules:  # OpenMP reads it once, when torch loads
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
    sweep.failed_jobs.clear()
    warnings.simplefilter("default")
    warnings.formatwarning = _one_line_warning
    commands = _report_errors(lambda: get_registry().entries["command"])
    if argv and argv[0] in commands:
        sys.exit(_report_errors(lambda: commands[argv[0]].load()(argv[1:])))
    if argv[:1] == ["say"]:
        argv = _report_errors(lambda: say_args(argv[1:]))
    argv = literal_text_overrides(argv)
    flags = set(argv)
    if MULTIRUN & flags and {"-c", "--cfg", "-i", "--info"} & flags:
        fail("--cfg and --info show one job: drop -m to see the config of the sweep's first values")
    overrides = [arg for arg in argv if "=" in arg and not arg.startswith("-")]
    if not COMPLETION & flags:  # there install=/query= are not overrides
        _report_errors(lambda: (check_choices(overrides), check_keys(overrides)))
    if not (SHOW_ONLY | COMPLETION) & flags:  # a job will run: its directory must be possible
        _report_errors(lambda: make_output_dir(*_output_dir(argv)))
    register_with_hydra()
    sys.argv = [sys.argv[0] if sys.argv else "ttsfw", *argv]
    app()
    if sweep.failed_jobs:  # whichever launcher ran them, the sweep summary found them
        sys.exit(1)
