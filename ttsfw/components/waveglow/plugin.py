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


@hookimpl
def ttsfw_model_store():
    from ...weights import StoredModel

    return [
        StoredModel(
            "nvidia_waveglowpyt_fp32_20190427",
            "waveglow",
            "WaveGlow, 512 channels, LJSpeech, fp32 (NVIDIA DeepLearningExamples via NGC; torch.hub nvidia_waveglow)",
            url="https://api.ngc.nvidia.com/v2/models/nvidia/waveglow_ckpt_fp32/versions/19.09.0/"
            "files/nvidia_waveglowpyt_fp32_20190427",
            aliases=("waveglow",),
        )
    ]
