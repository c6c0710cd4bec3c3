"""The plugin manager: built-in default plugins plus entry points of group "ttsfw".

Set ``TTSFW_PLUGINS`` to control which installed plugins load: unset = all of them,
empty = none (built-ins only), ``name1,name2`` = only those entry-point names.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points, version

import pluggy

from . import hookspecs
from .components import PLUGINS as COMPONENT_PLUGINS
from .errors import PluginError
from .registry import KINDS, Registry

ENTRY_POINT_GROUP = "ttsfw"
ENV_VAR = "TTSFW_PLUGINS"

#: built-in components, commands and modes, registered through the same hooks as third-party plugins
DEFAULT_PLUGINS: tuple[str, ...] = ("ttsfw.builtins", *COMPONENT_PLUGINS)


@dataclass
class PluginInfo:
    """One loaded plugin: where it comes from and what it registers."""

    name: str
    distribution: str
    version: str
    hooks: list[str]
    components: dict[str, list[str]] = field(default_factory=dict)


def allowed_plugins() -> set[str] | None:
    """Entry-point names allowed by ``TTSFW_PLUGINS`` (None = all)."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


@functools.lru_cache(maxsize=None)
def _cached_manager(allowed: frozenset[str] | None) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    pm = pluggy.PluginManager("ttsfw")
    pm.add_hookspecs(hookspecs)
    origins: dict[str, tuple[str, str]] = {}
    own_version = version("ttsfw") if _installed("ttsfw") else "source"
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        origins[module_name] = ("ttsfw", own_version)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else "?"
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must name itself
            raise PluginError(
                f"plugin '{ep.name}' (distribution {dist}) failed to import: {exc}; "
                f"fix or uninstall it, or skip it with {ENV_VAR}"
            ) from exc
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=ep.name)
        origins[ep.name] = (dist, ep.dist.version if ep.dist else "?")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        unknown = [
            impl.function.__name__
            for hook in pm.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller) and not hook.has_spec()
            for impl in hook.get_hookimpls()
        ]
        raise PluginError(
            f"plugin '{name}' implements unknown hook(s) {', '.join(unknown)}: misspelled? "
            f"known hooks: {', '.join(sorted(_spec_names()))}"
        ) from None
    return pm, origins


def _spec_names() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith("ttsfw_")]


def _installed(dist: str) -> bool:
    try:
        version(dist)
        return True
    except Exception:
        return False


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager for the current ``TTSFW_PLUGINS`` setting."""
    allowed = allowed_plugins()
    return _cached_manager(frozenset(allowed) if allowed is not None else None)[0]


def get_registry() -> Registry:
    """A registry filled by every loaded plugin's registration hooks."""
    return Registry.from_plugins(get_plugin_manager())


def reset() -> None:
    """Forget loaded plugins (tests; after installing a plugin in-process)."""
    _cached_manager.cache_clear()


def plugin_infos() -> list[PluginInfo]:
    """Every loaded plugin with its distribution, version, hooks and registered components."""
    allowed = allowed_plugins()
    pm, origins = _cached_manager(frozenset(allowed) if allowed is not None else None)
    registry = Registry.from_plugins(pm)
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        components = {
            kind: sorted({e.name for e in registry.entries[kind].values() if e.plugin == name})
            for kind in KINDS
        }
        dist, ver = origins.get(name, ("?", "?"))
        infos.append(
            PluginInfo(name, dist, ver, hooks, {k: v for k, v in components.items() if v})
        )
    return infos
