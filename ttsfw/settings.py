"""The schemas of ttsfw's own config nodes: Hydra structured configs (dataclasses in Hydra's
ConfigStore) for the primary config, the job modes, the server, the devices, the engines and
``denoiser=none``.

The yaml files keep the values and their documentation; a schema gives every key its type, so
a wrong type or an unknown key fails at composition with one line naming the key (`config.py`
turns OmegaConf's error into a ConfigError). Each component's schema is registered with the
component (``register(name, factory, schema=...)``) and stored as ``schema_<group>_<name>``;
the primary config's as ``schema_job``. A config file names its schema first in its defaults
list (``- /schema_device_cpu@_here_``).

No torch here: schemas are stored before anything is built.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from .errors import ConfigError

ON_MAX_STEPS = ("retry_split", "warn", "error")


@dataclass
class JobSettings:
    """The primary config (conf/config.yaml): the stage groups and the job's own keys."""

    frontend: Any = MISSING
    acoustic: Any = MISSING
    vocoder: Any = MISSING
    denoiser: Any = MISSING
    device: Any = MISSING
    engine: Any = MISSING
    mode: Any = MISSING
    serve: Any = MISSING
    runtime: Any = MISSING
    text: Optional[str] = None
    input: Optional[str] = None
    default_text: str = MISSING
    batch_size: int = MISSING
    format: str = MISSING
    seed: Optional[int] = MISSING
    precision: str = MISSING
    quantize: str = MISSING
    plots: bool = MISSING
    shard: int = MISSING
    num_shards: int = MISSING
    progress: Any = MISSING  # auto | true | false
    split: bool = MISSING
    max_chars: int = MISSING
    pause: float = MISSING
    on_max_steps: str = MISSING
    resume: bool = MISSING
    output: Optional[str] = MISSING  # null: files in the run dir | "-": raw PCM on stdout

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.shard < self.num_shards:
            raise ConfigError(
                f"shard must be in 0..num_shards-1 (num_shards={self.num_shards}), got shard={self.shard}"
            )
        if self.max_chars < 1 or self.pause < 0:
            raise ConfigError(f"max_chars must be >= 1 and pause >= 0, got {self.max_chars} and {self.pause}")
        if self.on_max_steps not in ON_MAX_STEPS:
            raise ConfigError(
                f"on_max_steps must be one of {', '.join(ON_MAX_STEPS)}, got '{self.on_max_steps}'"
            )
        if self.output not in (None, "-"):
            raise ConfigError(
                f"output must be null (files in the run dir) or - (raw PCM to stdout), got {self.output!r}"
            )
        if self.progress not in ("auto", True, False):
            raise ConfigError(f"progress must be auto, true or false, got {self.progress!r}")


def job_settings(cfg: DictConfig) -> JobSettings:
    """The composed config as a checked `JobSettings` (stage nodes as their own schemas).
    Top-level keys it does not know are left alone: a plugin may keep its own settings there
    (``++myplugin.gain=0.5``, read by its hooks)."""
    known = [field.name for field in dataclasses.fields(JobSettings)]
    return typed(JobSettings, OmegaConf.masked_copy(cfg, [key for key in known if key in cfg]), "")


def typed(schema: type, node: Any, where: str) -> Any:
    """`node` validated against the dataclass `schema` and made into an instance of it; a wrong
    type, an unknown or a missing key is one ConfigError naming ``where.key``."""
    known = [field.name for field in dataclasses.fields(schema)]
    for key in node:  # a key added with +key= is not refused by the merge
        if key not in known:
            raise unknown_key(f"{where}.{key}" if where else str(key), known)
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
    except OmegaConfBaseException as exc:
        raise config_error(exc, where) from None


def unknown_key(key: str, known: list[str]) -> ConfigError:
    """``unknown config key 'vocoder.n_itre'; did you mean 'vocoder.n_iter'?`` (else the known keys)."""
    parent, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean '{parent}.{close[0]}'?".replace("'.", "'") if close else f"known: {', '.join(known)}"
    return ConfigError(f"unknown config key '{key}'; {hint}")


def config_error(exc: BaseException, where: str = "") -> ConfigError:
    """An OmegaConf error (or a Hydra one caused by it) -> one line naming the key, e.g.
    ``acoustic.max_decoder_steps: Value 'abc' of type 'str' could not be converted to Integer``."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    if cause is None:
        return ConfigError(f"invalid configuration: {str(exc).splitlines()[0]}")
    key = ".".join(part for part in (where, str(getattr(cause, "full_key", None) or "")) if part)
    schema = getattr(cause, "object_type", None)
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and dataclasses.is_dataclass(schema):
        return unknown_key(key, [field.name for field in dataclasses.fields(schema)])
    message = str(getattr(cause, "msg", None) or cause).splitlines()[0]
    return ConfigError(f"{key}: {message}" if key else f"invalid configuration: {message}")


@dataclass
class CpuSettings:
    name: str = MISSING
    threads: Optional[int] = MISSING
    workers: int = MISSING
    reuse_memory: bool = MISSING


@dataclass
class AcceleratorSettings:
    """``device=cuda`` and ``device=mlu``."""

    name: str = MISSING
    index: Optional[int] = MISSING
    threads: Optional[int] = MISSING


@dataclass
class AutoDeviceSettings(AcceleratorSettings):
    workers: int = MISSING


@dataclass
class NoDenoiserSettings:
    name: str = MISSING


@dataclass
class SynthSettings:
    name: str = MISSING


@dataclass
class BenchSettings:
    name: str = MISSING
    text: str = MISSING
    input_length: int = MISSING
    warmup: int = MISSING
    num_iters: int = MISSING
    stream: bool = MISSING
    reference: str = MISSING


@dataclass
class LocalEngineSettings:
    """``engine=local``: the engine in this process."""

    name: str = MISSING


@dataclass
class RayEngineSettings:
    """``engine=ray``: the engine in a pool of Ray actors, one pipeline each (docs/scale.md)."""

    name: str = MISSING
    workers: int = MISSING
    address: Optional[str] = MISSING
    cpus_per_worker: int = MISSING
    gpus_per_worker: Optional[float] = MISSING
    max_restarts: int = MISSING

    def __post_init__(self) -> None:
        if self.workers < 1 or self.cpus_per_worker < 1:
            raise ConfigError(
                f"engine.workers and engine.cpus_per_worker must be >= 1, got {self.workers} and "
                f"{self.cpus_per_worker}"
            )
        if (self.gpus_per_worker or 0) < 0 or self.max_restarts < 0:
            raise ConfigError(
                f"engine.gpus_per_worker and engine.max_restarts must be >= 0, got "
                f"{self.gpus_per_worker} and {self.max_restarts}"
            )


@dataclass
class ServeSettings:
    """``serve`` (conf/serve/default.yaml): the HTTP server of ``python -m ttsfw serve``."""

    host: str = MISSING
    port: int = MISSING
    workers: int = MISSING
    max_batch: int = MISSING
    batch_window_ms: float = MISSING
    max_queue: int = MISSING
    max_chars: int = MISSING
    drain_s: float = MISSING

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"serve.port must be in 1..65535, got {self.port}")
        for key in ("workers", "max_batch", "max_chars"):
            if getattr(self, key) < 1:
                raise ConfigError(f"serve.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("batch_window_ms", "max_queue", "drain_s"):
            if getattr(self, key) < 0:
                raise ConfigError(f"serve.{key} must be >= 0, got {getattr(self, key)}")
