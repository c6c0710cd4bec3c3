"""The built-in ``english`` component's hooks: registered exactly as a plugin's are.

Imports nothing heavy: the factory (and torch) load when the component is built.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from .settings import EnglishSettings


@hookimpl
def ttsfw_register_frontends(register):
    register("english", "ttsfw.components.english.frontend:build_english_frontend", schema=EnglishSettings)


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw.components.english.conf"]
