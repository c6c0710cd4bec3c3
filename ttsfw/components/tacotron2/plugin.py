"""The built-in ``tacotron2`` component's hooks: registered exactly as a plugin's are.

Imports nothing heavy: the factory (and torch) load when the component is built.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from .settings import Tacotron2Settings


@hookimpl
def ttsfw_register_acoustic_models(register):
    register("tacotron2", "ttsfw.components.tacotron2.factory:build_tacotron2", schema=Tacotron2Settings)


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw.components.tacotron2.conf"]
