"""The ttsfw entry point of this package: registers the ``hifigan`` vocoder, its configs
(``vocoder/hifigan*``, ``voice/joe_hifigan``) and jik876's published generators as store names.

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
def ttsfw_model_store():
    """``hifigan_v1_universal``, ``hifigan_v1_ljspeech``: jik876's generators (store.py)."""
    from .store import stored_models

    return stored_models()


@hookimpl
def ttsfw_onnx_module(stage, component):
    """``python -m ttsfw export``: the generator's ONNX form (mel -> audio (B, N))."""
    from .generator import Generator, GeneratorGraph

    if stage == "vocoder" and isinstance(component, Generator):
        return GeneratorGraph(component)
    return None
