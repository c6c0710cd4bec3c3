"""The template plugin's own tests, written with ttsfw.testing (run them after pip install)."""

from __future__ import annotations

import pytest
import torch

from ttsfw.errors import ConfigError
from ttsfw.testing import pipeline_with
from ttsfw_template.vocoder import TemplateVocoder


def test_shapes_and_range():
    vocoder = TemplateVocoder(gain=0.5, sample_rate=22050, hop_length=256, n_mel_channels=80)
    audio = vocoder.infer(torch.randn(2, 80, 7), torch.Generator().manual_seed(0))
    assert audio.shape == (2, 7 * 256) and float(audio.abs().max()) <= 0.5


def test_it_speaks_through_the_pipeline():
    """The shipped voice's Tacotron2 (no download) with this vocoder."""
    result = pipeline_with(["template"], ["vocoder=template"]).synthesize(["Hello there."])
    audio = result.audio[0]
    assert 0.3 < len(audio) / result.sample_rate < 3 and 0 < abs(audio).max() <= 0.1


def test_a_bad_gain_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"vocoder.gain must be in \(0, 1\], got 3"):
        pipeline_with(["template"], ["vocoder=template", "vocoder.gain=3"])
