"""ttsfw: a plugin-based, Hydra-composed text-to-speech framework."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ttsfw")
except PackageNotFoundError:  # running from a source checkout without install
    __version__ = "0.0.0+source"

__all__ = ["Pipeline", "__version__"]


def __getattr__(name: str):
    if name == "Pipeline":  # lazy: keeps `import ttsfw` light
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
