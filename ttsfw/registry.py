"""Component registry filled by the registration hooks: names, aliases, collisions, lookup."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy
from omegaconf import OmegaConf

from .errors import ConfigError, PluginError
from .precision import Precision
from .settings import typed

#: component kind -> registration hook name
KINDS: dict[str, str] = {
    "frontend": "ttsfw_register_frontends",
    "acoustic": "ttsfw_register_acoustic_models",
    "vocoder": "ttsfw_register_vocoders",
    "denoiser": "ttsfw_register_denoisers",
    "device": "ttsfw_register_devices",
    "command": "ttsfw_register_commands",
    "mode": "ttsfw_register_modes",
    "engine": "ttsfw_register_engines",
    "runtime": "ttsfw_register_runtimes",
}

#: ``factory(cfg, context) -> component``, or its ``"package.module:function"`` name, imported
#: when the component is first built (so that registering imports no model code or torch)
Factory = Callable[..., Any] | str


@dataclass
class BuildContext:
    """What a factory may use: the device backend, the precision (a ``ttsfw.precision.Precision``:
    ``.name``, ``.dtype``, ``.quantize``) and the stages built so far."""

    device: Any = None
    precision: Precision = field(default_factory=Precision)
    frontend: Any = None
    acoustic: Any = None
    vocoder: Any = None


@dataclass
class Registration:
    kind: str
    name: str
    factory: Factory
    plugin: str
    aliases: tuple[str, ...] = ()
    #: the dataclass its config node must fit (Hydra stores it as ``schema_<kind>_<name>``)
    schema: type | None = None

    def load(self) -> Callable[..., Any]:
        """The factory function, imported first if it was registered by name."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, function = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.kind} '{self.name}' of plugin '{self.plugin}' names the factory "
                f"'{self.factory}', which cannot be imported: {exc}"
            ) from exc


@dataclass
class Registry:
    """All registered components, by kind and name (aliases resolve to the same entry)."""

    entries: dict[str, dict[str, Registration]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    #: (kind, name) -> the distribution that provides it (from ``ttsfw_install_hints``)
    hints: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> "Registry":
        registry = cls()
        for kind, hook_name in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                impl.function(register=registry._callback(kind, impl.plugin_name))
        for hints in pm.hook.ttsfw_install_hints():
            registry.hints.update(hints or {})
        return registry

    def _callback(self, kind: str, plugin: str) -> Callable[..., None]:
        def register(
            name: str, factory: Factory, aliases: tuple[str, ...] | list[str] = (), schema: type | None = None
        ) -> None:
            entry = Registration(kind, name, factory, plugin, tuple(aliases), schema)
            for key in (name, *entry.aliases):
                other = self.entries[kind].get(key)
                if other is not None:
                    raise PluginError(
                        f"{kind} '{key}' is registered twice: by plugin '{other.plugin}' and "
                        f"by plugin '{plugin}'; uninstall one or disable it with TTSFW_PLUGINS"
                    )
                self.entries[kind][key] = entry

        return register

    def names(self, kind: str) -> list[str]:
        """Canonical names (no aliases) of every registered component of `kind`."""
        return sorted({entry.name for entry in self.entries[kind].values()})

    def get(self, kind: str, name: str) -> Registration:
        try:
            return self.entries[kind][name]
        except KeyError:
            raise ConfigError(
                f"unknown {kind} '{name}'; available: {', '.join(self.names(kind)) or '(none registered)'}"
                f"{self.install_hint(kind, name)}"
            ) from None

    def install_hint(self, kind: str, name: str) -> str:
        """``"; 'NAME' is provided by the plugin package DIST (pip install DIST)"``, or ""."""
        package = self.hints.get((kind, name))
        return f"; '{name}' is provided by the plugin package {package} (pip install {package})" if package else ""

    def build(self, kind: str, cfg: Any, context: BuildContext) -> Any:
        """Build the component named ``cfg.name`` of `kind` from its config node, checked
        against the component's schema first if it has one."""
        entry = self.get(kind, cfg.name)
        if entry.schema is not None:
            cfg = OmegaConf.structured(typed(entry.schema, cfg, kind))
        return entry.load()(cfg, context)
