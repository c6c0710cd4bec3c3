"""The built-in components, commands and modes, registered through the same hooks as a
third-party plugin's.

Each factory is named as ``"module:function"``, imported only when that component is built,
so loading plugins (``--help``, ``plugins``, ``--cfg``, every error path) never imports torch.
"""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def ttsfw_register_frontends(register):
    register("english", "ttsfw.text.english:build_english_frontend")


@hookimpl
def ttsfw_register_acoustic_models(register):
    register("tacotron2", "ttsfw.models.tacotron2:build_tacotron2")


@hookimpl
def ttsfw_register_vocoders(register):
    register("waveglow", "ttsfw.models.waveglow:build_waveglow")
    register("griffinlim", "ttsfw.models.griffinlim:build_griffinlim", aliases=("gl",))


@hookimpl
def ttsfw_register_denoisers(register):
    register("waveglow_bias", "ttsfw.models.denoiser:build_waveglow_bias")
    register("none", "ttsfw.models.denoiser:build_none")


@hookimpl
def ttsfw_register_commands(register):
    register("plugins", "ttsfw.cli:plugins_command")
    register("convert", "ttsfw.weights.convert:main")
    register("download", "ttsfw.weights.store:main")


@hookimpl
def ttsfw_register_modes(register):
    register("synth", "ttsfw.runner:synthesize_job")
    register("bench", "ttsfw.bench:bench_job")


@hookimpl
def ttsfw_install_hints():
    return {("vocoder", "hifigan"): "ttsfw-hifigan"}


@hookimpl
def ttsfw_register_devices(register):
    register("cpu", "ttsfw.devices:build_cpu")
    register("cuda", "ttsfw.devices:build_cuda", aliases=("gpu",))
    register("mlu", "ttsfw.devices:build_mlu")
    register("auto", "ttsfw.devices:build_auto")
