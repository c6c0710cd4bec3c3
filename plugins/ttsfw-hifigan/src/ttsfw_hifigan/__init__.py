"""HiFi-GAN vocoder plugin for ttsfw (jik876/hifi-gan generator checkpoints)."""

__all__ = ["Generator", "load_hifigan"]

#: lazy: the entry point (ttsfw_hifigan.plugin) must not import torch
_PUBLIC = {"Generator": "generator", "load_hifigan": "load"}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(name)
