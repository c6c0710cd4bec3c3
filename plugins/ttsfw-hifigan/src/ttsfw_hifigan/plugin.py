"""The ttsfw entry point of this package: registers the ``hifigan`` vocoder and its configs.

Imports nothing heavy: the factory (and torch) load when a HiFi-GAN vocoder is built.
"""

from __future__ import annotations

from ttsfw import hookimpl

from .settings import HiFiGANSettings


@hookimpl
def ttsfw_register_vocoders(register):
    register("hifigan", "ttsfw_hifigan.factory:build_hifigan", schema=HiFiGANSettings)


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw_hifigan.conf"]


@hookimpl
def ttsfw_onnx_module(stage, component):
    """``python -m ttsfw export``: the generator's ONNX form (mel -> audio (B, N))."""
    from .generator import Generator, GeneratorGraph

    if stage == "vocoder" and isinstance(component, Generator):
        return GeneratorGraph(component)
    return None
