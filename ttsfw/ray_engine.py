"""``engine=ray``: the one engine in a pool of Ray actors, one pipeline each (docs/scale.md).

Each actor (a :class:`LineWorker`) runs the local executor (engine and line writer) on the
chunks of lines it is given and writes their files into the run directory; this process hands
each chunk to whichever actor is free and merges what the chunks report into the job's
progress and metrics. A chunk is ``batch_size`` x ``Engine.WINDOW_BATCHES`` lines (the local
engine sorts that many pieces by length at a time), fewer where the input is short, so that
each worker gets ``CHUNKS_PER_WORKER`` chunks at least.

A dead actor (killed, out of memory, its node lost) is replaced by Ray, up to
``engine.max_restarts`` times, and the chunk it held is spoken again by the replacement: a file
appears whole or not at all, and with a fixed seed its bytes depend only on the config and the
line (with batch_size=1), so a line spoken twice is the same file, counted once.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from .audio_io import OutputError, remove_temp_files
from .engine import Engine
from .errors import ConfigError, SynthesisError, TTSError
from .runner import LocalExecutor, Written
from .settings import RayEngineSettings, job_settings, typed

#: what the actors' environment takes from this process: the plugins to load, OpenMP's spin
ENVIRONMENT = ("TTSFW_PLUGINS", "GOMP_SPINCOUNT")
#: a short input is cut into this many chunks per worker at least, so that all finish together
CHUNKS_PER_WORKER = 4


@dataclass
class ChunkResult:
    """What one actor reports for one chunk of lines."""

    events: list[tuple[int, str | None]]  # as Executor.speak yields them
    written: list[Written]
    seconds: dict[str, float]  # compute seconds per stage spent on this chunk
    process: int  # the actor's process id
    replacement: bool  # the actor was restarted (the process is a dead one's replacement)
    threads: dict[str, Any]  # its device's thread report


class LineWorker:
    """A Ray actor: a LocalExecutor built on first use (a replacement builds its own) from
    `inputs`, ``[ref]`` to (config as a dict, choices, lines, paths) in Ray's object store."""

    def __init__(self, inputs: list[Any]):
        self._inputs = inputs
        self._local: LocalExecutor | None = None

    def local(self) -> LocalExecutor:
        if self._local is None:
            cfg, choices, lines, paths = import_ray().get(self._inputs[0])
            self._local = LocalExecutor(OmegaConf.create(cfg), choices, lines, paths)
        return self._local

    def describe(self) -> dict[str, Any]:
        return self.local().describe()

    def speak(self, todo: list[int]) -> ChunkResult:
        local = self.local()
        written, before = len(local.done), local.seconds
        events = list(local.speak(todo))
        seconds = {stage: value - before.get(stage, 0.0) for stage, value in local.seconds.items()}
        with warnings.catch_warnings():  # Ray's property uses its own deprecated actor_id
            warnings.simplefilter("ignore", DeprecationWarning)
            replacement = import_ray().get_runtime_context().was_current_actor_reconstructed
        return ChunkResult(
            events, local.done[written:], seconds, os.getpid(), replacement, local.report()["threads"]
        )


class RayExecutor:
    """``engine=ray``: `engine.workers` LineWorker actors on a Ray cluster (joined at
    `engine.address`, or started on this machine)."""

    def __init__(self, cfg: DictConfig, choices: dict[str, str], lines: list[str], paths: dict[int, Path]):
        self.settings: RayEngineSettings = typed(RayEngineSettings, cfg.engine, "engine")
        self.ray = import_ray()
        self.paths = paths
        self.window = job_settings(cfg).batch_size * Engine.WINDOW_BATCHES
        self.done: list[Written] = []
        self._seconds: dict[str, float] = {}
        self._threads: dict[str, dict[str, Any]] = {}  # process id -> its thread report
        self._replacements: set[int] = set()
        self._owns_ray = not self.ray.is_initialized()
        if self._owns_ray:
            check_reachable(self.settings.address)
            try:
                self.ray.init(address=self.settings.address, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise ConfigError(f"cannot join a Ray cluster (engine.address={self.settings.address}): {exc}") from None
        self.workers: list[Any] = []
        try:
            resources = self._resources(cfg)
            check_fits(self.ray.cluster_resources(), self.settings.workers, resources)
            actor = self.ray.remote(LineWorker).options(**resources)
            # held here for as long as the actors may be restarted
            self._inputs = [self.ray.put((worker_config(cfg, self.settings), choices, lines, paths))]
            self.workers = [actor.remote(self._inputs) for _ in range(self.settings.workers)]
            self.facts = self._get([worker.describe.remote() for worker in self.workers])[0]
        except BaseException:
            self.close()
            raise

    def _resources(self, cfg: DictConfig) -> dict[str, Any]:
        gpus = self.settings.gpus_per_worker
        environment = {name: os.environ[name] for name in ENVIRONMENT if name in os.environ}
        return {
            "num_cpus": self.settings.cpus_per_worker,
            "num_gpus": (1 if cfg.device.name == "cuda" else 0) if gpus is None else gpus,
            "max_restarts": self.settings.max_restarts,
            "max_task_retries": self.settings.max_restarts,
            "runtime_env": {"env_vars": environment},
        }

    @property
    def seconds(self) -> dict[str, float]:
        return dict(self._seconds)

    def describe(self) -> dict[str, Any]:
        return self.facts

    def speak(self, todo: list[int]) -> Iterator[tuple[int, str | None]]:
        # at most one engine window, and at least CHUNKS_PER_WORKER chunks a worker to share
        size = max(1, min(self.window, -(-len(todo) // (CHUNKS_PER_WORKER * self.settings.workers))))
        chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
        for result in self._each_chunk(chunks):
            check_visible(self.paths, result.written)
            self.done.extend(result.written)
            for stage, seconds in result.seconds.items():
                self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds
            self._threads[str(result.process)] = result.threads
            if result.replacement:
                self._replacements.add(result.process)
            yield from result.events
        remove_temp_files(self.paths.values())

    def _each_chunk(self, chunks: list[list[int]]) -> Iterator[ChunkResult]:
        """Every chunk's result as it comes, each chunk given to the next free worker."""
        queue, idle, running = iter(chunks), list(self.workers), {}
        while True:
            while idle and (chunk := next(queue, None)) is not None:
                worker = idle.pop()
                running[worker.speak.remote(chunk)] = (worker, chunk)
            if not running:
                return
            [ready], _ = self.ray.wait(list(running), num_returns=1)
            worker, chunk = running.pop(ready)
            idle.append(worker)
            try:
                result = self._get(ready)
            except self.ray.exceptions.RayActorError as exc:
                raise SynthesisError(
                    f"a Ray worker died {self.settings.max_restarts + 1} time(s), the last while "
                    f"speaking lines {chunk[0] + 1}-{chunk[-1] + 1} ({str(exc).splitlines()[0]}); "
                    "rerun with resume=true to finish, or raise engine.max_restarts"
                ) from None
            yield result

    def _get(self, refs: Any) -> Any:
        """ray.get, with a ttsfw error raised in an actor re-raised as itself (one line)."""
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, TTSError):
                raise exc.cause from None
            raise

    def report(self) -> dict[str, Any]:
        return {
            "threads": self._threads,
            "engine": {
                "name": "ray",
                "workers": self.settings.workers,
                "processes": len(self._threads),  # that spoke lines
                "replacements": len(self._replacements),  # of those, replacing a dead worker
            },
        }

    def close(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker)
        self.workers = []
        if self._owns_ray:
            self.ray.shutdown()
            self._owns_ray = False


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("engine=ray needs Ray, which is not installed: pip install 'ttsfw[ray]'") from None
    return ray


def worker_config(cfg: DictConfig, settings: RayEngineSettings) -> dict[str, Any]:
    """The config each actor builds its pipeline from: `cfg`, resolved, with torch threads
    ``engine.cpus_per_worker`` unless ``device.threads`` is set."""
    container = OmegaConf.to_container(cfg, resolve=True)
    if "threads" in container["device"] and container["device"]["threads"] is None:
        container["device"]["threads"] = settings.cpus_per_worker
    return container


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) `engine.address` answers a TCP connection, or a
    ConfigError now (Ray itself retries an unreachable address for minutes)."""
    host, _, port = (address or "").rpartition("://")[2].rpartition(":")
    if not host or not port.isdigit():
        return  # None, "auto", "local": Ray finds (or starts) the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach a Ray cluster at engine.address={address} ({exc.strerror or exc}); "
            f"start one there with `ray start --head --port={port}`, or fix the address"
        ) from None


def check_fits(cluster: dict[str, float], workers: int, resources: dict[str, Any]) -> None:
    """Raise ConfigError unless the `cluster` (``ray.cluster_resources()``) has the CPUs and
    GPUs of `workers` actors of `resources` each (else Ray would wait for them forever)."""
    for kind, key in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
        each, present = resources[key], cluster.get(kind, 0)
        if workers * each > present:
            setting = f"engine.{kind.lower()}s_per_worker"
            raise ConfigError(
                f"engine.workers={workers} x {setting}={each:g} = {workers * each:g} {kind}s, but the "
                f"Ray cluster has {present:g}: lower engine.workers or {setting}, or add nodes"
            )


def check_visible(paths: dict[int, Path], written: list[Written]) -> None:
    """Raise OutputError if a file an actor reports written is not here (an actor on another
    node whose run directory is not the one this process sees)."""
    for record in written:
        if not paths[record.index].exists():
            raise OutputError(
                f"a Ray worker wrote {paths[record.index]}, which this machine does not see: the "
                "run directory must be on a file system every node shares (hydra.run.dir=DIR; "
                "docs/scale.md)"
            )
