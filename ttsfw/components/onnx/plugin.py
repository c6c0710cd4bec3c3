"""The built-in ``onnx`` component's hooks: the ``export`` command, ``runtime=onnxruntime``
(the stages built from an export directory) and the ONNX forms of the built-in WaveGlow and
its denoiser (``ttsfw_onnx_module``, the hook a plugin's vocoder answers too).

Imports nothing heavy: torch, onnx and onnxruntime load when a stage is built or exported.
"""

from __future__ import annotations

from ...hookspecs import hookimpl
from .settings import OnnxRuntimeSettings


@hookimpl
def ttsfw_register_commands(register):
    register("export", "ttsfw.components.onnx.export:main")


@hookimpl
def ttsfw_register_runtimes(register):
    register("onnxruntime", "ttsfw.components.onnx.runtime:build_onnxruntime", schema=OnnxRuntimeSettings)


@hookimpl
def ttsfw_onnx_module(stage, component):
    from .waveglow_graphs import builtin_module

    return builtin_module(stage, component)


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw.components.onnx.conf"]
