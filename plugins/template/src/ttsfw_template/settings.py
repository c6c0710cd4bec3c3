"""The ``vocoder: template`` config node's schema: every key of conf/vocoder/template.yaml
with its type. ttsfw stores it as ``schema_vocoder_template``, which the yaml names first in
its defaults list: a wrong type or an unknown key is then one ``ttsfw: error:`` line."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TemplateSettings:
    name: str = MISSING
    gain: float = MISSING
    sample_rate: int = MISSING
    hop_length: int = MISSING
    n_mel_channels: int = MISSING
