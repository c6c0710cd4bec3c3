"""HiFi-GAN vocoder plugin for ttsfw (jik876/hifi-gan generator checkpoints)."""

from .generator import Generator

__all__ = ["Generator"]
