"""The built-in ``waveglow`` component's hooks: registered exactly as a plugin's are.

Imports nothing heavy: the factory (and torch) load when the component is built.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from .settings import WaveGlowBiasSettings, WaveGlowSettings


@hookimpl
def ttsfw_register_vocoders(register):
    register("waveglow", "ttsfw.components.waveglow.factory:build_waveglow", schema=WaveGlowSettings)


@hookimpl
def ttsfw_register_denoisers(register):
    register(
        "waveglow_bias", "ttsfw.components.waveglow.factory:build_waveglow_bias", schema=WaveGlowBiasSettings
    )


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw.components.waveglow.conf"]
