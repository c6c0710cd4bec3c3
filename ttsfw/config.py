"""Hydra composition: where the config tree lives, plugin search paths, checking choices and keys."""

from __future__ import annotations

import contextlib
import difflib
from pathlib import Path
from typing import Any, Iterable, Iterator

from hydra import compose, initialize_config_dir
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf, open_dict

from .argv import literal_text_overrides
from .errors import ConfigError
from .settings import JobSettings, ServeSettings, config_error

#: config groups that select a component (group name == registry kind)
COMPONENT_GROUPS = ("frontend", "acoustic", "vocoder", "denoiser", "device")
#: every config group ttsfw itself defines options for
GROUPS = (*COMPONENT_GROUPS, "engine", "mode", "serve", "voice", "runtime")


def _find_conf_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):  # wheel, source checkout
        if (candidate / "config.yaml").is_file():
            return candidate
    raise ConfigError(f"ttsfw's config tree (conf/config.yaml) is missing next to {here}; reinstall ttsfw")


CONF_DIR = _find_conf_dir()


class PluginSearchPath(SearchPathPlugin):
    """Adds the config search paths that ttsfw plugins return from ``ttsfw_config_search_path``."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from .plugins import get_plugin_manager

        for paths in get_plugin_manager().hook.ttsfw_config_search_path():
            for path in paths or ():
                search_path.append(provider="ttsfw-plugin", path=path)


_registered = False


def register_with_hydra() -> None:
    """Before each composition: make Hydra ask the ttsfw hooks for config search paths (once
    per process), and store every schema in Hydra's ConfigStore (again each time: a plugin may
    have been registered since): the primary config's as ``schema_job``, the server's as
    ``schema_serve``, each registered component's as ``schema_<kind>_<name>``; top-level names,
    not a group, so that ``--help`` lists only what a user chooses."""
    global _registered
    if not _registered:
        Plugins.instance().register(PluginSearchPath)
        _registered = True
    from .plugins import get_registry

    store = ConfigStore.instance()
    store.store(name="schema_job", node=JobSettings)
    store.store(name="schema_serve", node=ServeSettings)
    for kind, entries in get_registry().entries.items():
        for entry in {id(e): e for e in entries.values() if e.schema is not None}.values():
            store.store(name=f"schema_{kind}_{entry.name}", node=entry.schema)


@contextlib.contextmanager
def ttsfw_hydra() -> Iterator[None]:
    """Hydra initialised on ttsfw's config tree for the block, also inside another Hydra app
    (the training job composes the inference config): the outer state is restored after."""
    outer = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="ttsfw"):
            yield
    finally:
        restore_gh_from_backup(outer)


def group_options(group: str) -> list[str]:
    """Every option of a config group, ttsfw's own and the plugins' (e.g. vocoder -> waveglow, ...)."""
    register_with_hydra()
    with ttsfw_hydra():
        return GlobalHydra.instance().config_loader().get_group_options(group)


def check_choices(overrides: Iterable[str]) -> None:
    """Raise ConfigError for ``group=option`` overrides naming an option that does not exist.

    Sweeps (``vocoder=a,b``) are checked value by value. The message lists what exists and,
    for components that live in plugin packages, what to install.
    """
    for override in _parse([o for o in overrides if not o.startswith("hydra.")]):
        group = override.key_or_group
        if group not in GROUPS or override.is_delete():
            continue
        options = group_options(group)
        for value in _values(override):
            if value not in options:
                from .plugins import get_registry

                hint = get_registry().install_hint(group, value)
                raise ConfigError(
                    f"unknown {group} '{value}'; available: {', '.join(options) or '(none registered)'}{hint}"
                )


def check_keys(overrides: Iterable[str]) -> None:
    """Raise ConfigError for a ``key=value`` override whose key is neither a config group nor
    a key of the composed config (``vocodr=griffinlim``, ``batchsize=2``: with a "did you
    mean"), or whose value does not fit the key's schema (``batch_size=two``: naming the key).
    ``+key=`` adds a key and is not checked. In a sweep a key counts as known if any swept
    option of a group has it, and every swept value is checked."""
    parsed = _parse([o for o in overrides if not o.startswith("hydra.")])
    changes = [o for o in parsed if o.type == OverrideType.CHANGE and o.package is None]
    settings = [o for o in changes if o.key_or_group not in GROUPS and "/" not in o.key_or_group]
    if not settings:
        return
    groups = [o for o in changes if o.key_or_group in GROUPS]
    known: set[str] = set(GROUPS)
    for selection in _selections(groups):
        known |= _dotted_keys(_compose(selection, hydra=False))
    for key in (o.key_or_group for o in settings):
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"unknown config key or group '{key}'{hint} (python -m ttsfw --cfg job shows every "
                f"key; +{key}=VALUE adds a new one)"
            )
    selections = _selections(groups + settings)
    for selection in selections:
        try:
            _compose(selection, hydra=False)  # a value that does not fit its schema
        except ConfigError as exc:
            job = [o for o in selection if o not in selections[0]] or selection[:0]
            raise ConfigError(f"{exc} (in the sweep's job with {' '.join(job)})" if job else str(exc)) from None


def _parse(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return []  # Hydra reports malformed overrides itself


def _selections(overrides: list[Override]) -> list[list[str]]:
    """Overrides to compose with: every sweep at its first value, then each other value of one
    swept override at a time (a plain override as typed)."""
    values = {o.key_or_group: _values(o) for o in overrides}
    first = [
        f"{o.key_or_group}={values[o.key_or_group][0]}" if o.is_sweep_override() else o.input_line
        for o in overrides
    ]
    selections = [first]
    for index, (key, options) in enumerate(values.items()):
        for option in options[1:]:
            selections.append([*first[:index], f"{key}={option}", *first[index + 1 :]])
    return selections


def _values(override: Override) -> list[str]:
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.get_value_element_as_str()]


def _dotted_keys(node: Any, prefix: str = "") -> set[str]:
    """Every key path of a config: {"text", "vocoder", "vocoder.n_iter", ...}."""
    keys: set[str] = set()
    if isinstance(node, DictConfig):
        for key in node.keys():
            path = f"{prefix}{key}"
            keys.add(path)
            keys |= _dotted_keys(node._get_node(key), f"{path}.")
    return keys


def _compose(overrides: list[str], hydra: bool) -> DictConfig:
    register_with_hydra()
    try:
        with ttsfw_hydra():
            return compose("config", overrides=overrides, return_hydra_config=hydra)
    except HydraException as exc:
        raise config_error(exc) from None


def compose_config(overrides: Iterable[str] = ()) -> tuple[DictConfig, dict[str, str]]:
    """Compose ttsfw's config exactly as the CLI does; return it and the group choices."""
    overrides = literal_text_overrides(list(overrides))
    check_choices(overrides)
    check_keys(overrides)
    cfg = _compose(overrides, hydra=True)
    choices = {k: v for k, v in OmegaConf.to_container(cfg.hydra.runtime.choices).items() if not k.startswith("hydra/")}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices
