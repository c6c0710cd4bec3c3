"""The built-in ``griffinlim`` component's hooks: registered exactly as a plugin's are.

Imports nothing heavy: the factory (and torch) load when the component is built.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from .settings import GriffinLimSettings


@hookimpl
def ttsfw_register_vocoders(register):
    register(
        "griffinlim", "ttsfw.components.griffinlim.model:build_griffinlim", aliases=("gl",),
        schema=GriffinLimSettings,
    )


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw.components.griffinlim.conf"]
