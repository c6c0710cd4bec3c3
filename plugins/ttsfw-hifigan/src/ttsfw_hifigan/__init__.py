"""HiFi-GAN vocoder plugin for ttsfw (jik876/hifi-gan generator checkpoints)."""

__all__ = ["Generator"]


def __getattr__(name: str):
    if name == "Generator":  # lazy: the entry point (ttsfw_hifigan.plugin) must not import torch
        from .generator import Generator

        return Generator
    raise AttributeError(name)
