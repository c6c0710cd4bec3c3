"""ttsfw: a plugin-based, Hydra-composed text-to-speech framework."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ttsfw")
except PackageNotFoundError:  # running from a source checkout without install
    __version__ = "0.0.0+source"

#: the public face, for users (Pipeline; the models and their loaders, docs/coming-from-reference.md)
#: and plugin authors (hooks, stage classes, context); each is imported on first use, so
#: `import ttsfw` stays light (no torch)
_PUBLIC = {
    "Pipeline": "ttsfw.pipeline",
    "EnglishFrontend": "ttsfw.components.english.frontend",
    "Tacotron2": "ttsfw.components.tacotron2.model",
    "load_tacotron2": "ttsfw.components.tacotron2.load",
    "WaveGlow": "ttsfw.components.waveglow.model",
    "load_waveglow": "ttsfw.components.waveglow.load",
    "WaveGlowDenoiser": "ttsfw.components.waveglow.denoiser",
    "hookimpl": "ttsfw.hookspecs",
    "BuildContext": "ttsfw.registry",
    "Frontend": "ttsfw.stages",
    "AcousticModel": "ttsfw.stages",
    "Vocoder": "ttsfw.stages",
    "VocoderStream": "ttsfw.stages",
    "Denoiser": "ttsfw.stages",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ttsfw' has no attribute {name!r}")
