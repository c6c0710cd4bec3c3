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


@hookimpl
def ttsfw_model_store():
    from ...weights import StoredModel

    return [
        StoredModel(
            "nvidia_tacotron2pyt_fp32_20190427",
            "tacotron2",
            "Tacotron2, LJSpeech, fp32 (NVIDIA DeepLearningExamples via NGC; torch.hub nvidia_tacotron2)",
            url="https://api.ngc.nvidia.com/v2/models/nvidia/tacotron2_pyt_ckpt_fp32/versions/19.09.0/"
            "files/nvidia_tacotron2pyt_fp32_20190427",
            aliases=("tacotron2",),
        )
    ]
