"""The job's and the engine's own config values, type-checked: a wrong type or range is a
one-line ConfigError naming the option and an example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from .errors import ConfigError


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
