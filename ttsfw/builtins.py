"""What is built in but not a component (those live in ttsfw/components/, each with its own
hooks): the commands, the job modes, the engines, the device backends, ``denoiser=none`` and
the install hints, registered through the same hooks as a third-party plugin's.

Each factory is named as ``"module:function"``, imported only when that component is built,
so loading plugins (``--help``, ``plugins``, ``--cfg``, every error path) never imports torch.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .runtime import TorchRuntimeSettings
from .settings import (
    AcceleratorSettings,
    AutoDeviceSettings,
    BenchSettings,
    CpuSettings,
    LocalEngineSettings,
    NoDenoiserSettings,
    RayEngineSettings,
    SynthSettings,
)


@hookimpl
def ttsfw_register_denoisers(register):
    register("none", "ttsfw.builtins:no_denoiser", schema=NoDenoiserSettings)


def no_denoiser(cfg, context) -> None:
    """``denoiser=none``: no denoising stage (the pipeline skips it)."""
    return None


@hookimpl
def ttsfw_register_commands(register):
    register("plugins", "ttsfw.cli:plugins_command")
    register("convert", "ttsfw.weights.convert:main")
    register("download", "ttsfw.weights.store:main")
    register("serve", "ttsfw.serve.command:main")
    register("serve-bench", "ttsfw.serve.bench:main")


@hookimpl
def ttsfw_register_modes(register):
    register("synth", "ttsfw.runner:synthesize_job", schema=SynthSettings)
    register("bench", "ttsfw.bench:bench_job", schema=BenchSettings)


@hookimpl
def ttsfw_register_engines(register):
    register("local", "ttsfw.runner:LocalExecutor", schema=LocalEngineSettings)
    register("ray", "ttsfw.ray_engine:RayExecutor", schema=RayEngineSettings)


@hookimpl
def ttsfw_register_runtimes(register):
    register("torch", "ttsfw.runtime:build_torch_runtime", schema=TorchRuntimeSettings)


@hookimpl
def ttsfw_install_hints():
    return {("vocoder", "hifigan"): "ttsfw-hifigan", ("voice", "joe_hifigan"): "'ttsfw-hifigan[weights]'"}


@hookimpl
def ttsfw_register_devices(register):
    register("cpu", "ttsfw.devices:build_cpu", schema=CpuSettings)
    register("cuda", "ttsfw.devices:build_cuda", aliases=("gpu",), schema=AcceleratorSettings)
    register("mlu", "ttsfw.devices:build_mlu", schema=AcceleratorSettings)
    register("auto", "ttsfw.devices:build_auto", schema=AutoDeviceSettings)
