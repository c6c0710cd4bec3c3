"""Hydra composition: where the config tree lives, plugin search paths, choice checking."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from hydra import compose, initialize_config_dir
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf, open_dict

from .errors import ConfigError
from .registry import KNOWN_PLUGINS

#: config groups that select a component (group name == registry kind)
COMPONENT_GROUPS = ("frontend", "acoustic", "vocoder", "denoiser", "device")
#: every config group ttsfw itself defines options for
GROUPS = (*COMPONENT_GROUPS, "mode", "voice")


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


def register_search_path_plugin() -> None:
    """Make Hydra ask the ttsfw hooks for config search paths (once per process)."""
    global _registered
    if not _registered:
        Plugins.instance().register(PluginSearchPath)
        _registered = True


def group_options(group: str) -> list[str]:
    """Every option of a config group, ttsfw's own and the plugins' (e.g. vocoder -> waveglow, ...)."""
    register_search_path_plugin()
    if GlobalHydra.instance().is_initialized():
        return GlobalHydra.instance().config_loader().get_group_options(group)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return GlobalHydra.instance().config_loader().get_group_options(group)


def check_choices(overrides: Iterable[str]) -> None:
    """Raise ConfigError for ``group=option`` overrides naming an option that does not exist.

    Sweeps (``vocoder=a,b``) are checked value by value. The message lists what exists and,
    for components that live in plugin packages, what to install.
    """
    overrides = [o for o in overrides if not o.startswith("hydra.")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return  # Hydra reports malformed overrides itself
    for override in parsed:
        group = override.key_or_group
        if group not in GROUPS or override.is_delete():
            continue
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [override.get_value_element_as_str()]
        )
        options = group_options(group)
        for value in values:
            if value not in options:
                hint = ""
                if (group, value) in KNOWN_PLUGINS:
                    package = KNOWN_PLUGINS[group, value]
                    hint = f"; '{value}' is provided by the plugin package {package} (pip install {package})"
                raise ConfigError(
                    f"unknown {group} '{value}'; available: {', '.join(options) or '(none registered)'}{hint}"
                )


def compose_config(overrides: Iterable[str] = ()) -> tuple[DictConfig, dict[str, str]]:
    """Compose ttsfw's config exactly as the CLI does; return it and the group choices."""
    overrides = list(overrides)
    check_choices(overrides)
    register_search_path_plugin()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="ttsfw"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
    except HydraException as exc:
        raise ConfigError(f"invalid configuration: {str(exc).splitlines()[0]}") from None
    choices = {k: v for k, v in OmegaConf.to_container(cfg.hydra.runtime.choices).items() if not k.startswith("hydra/")}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices
