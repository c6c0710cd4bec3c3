"""acoustic.fine_structure_gain: the mel's fine structure along frequency scaled per frame, the
same in `mels`, in the stream and on runtime=onnxruntime; 1 changes nothing."""

from __future__ import annotations

import math

import pytest
import torch

from ttsfw import Pipeline
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.components.tacotron2.sharpen import ENVELOPE_BINS, sharpen
from ttsfw.errors import ConfigError
from ttsfw.testing import TINY_TACOTRON2

from test_budget import IDS, LENGTHS, TINY  # noqa: E402 (tests/ is on the path)


def test_a_ripple_over_the_bins_is_scaled_and_the_envelope_kept():
    """A ripple of period ENVELOPE_BINS averages to nothing over the envelope's bins, so away
    from the edges the envelope is the baseline and only the ripple grows."""
    bins = torch.arange(80, dtype=torch.float64)
    baseline = -4.0 - 0.05 * bins  # a falling spectral tilt: linear, its own mean
    ripple = 0.3 * torch.cos(2 * math.pi * bins / ENVELOPE_BINS)
    mel = (baseline + ripple)[None, :, None].repeat(2, 1, 3)  # (B=2, 80, T=3)
    inner = slice(ENVELOPE_BINS // 2, 80 - ENVELOPE_BINS // 2)
    for gain in (0.0, 1.7, 2.5):
        out = sharpen(mel, gain)
        expected = (baseline + gain * ripple)[None, :, None]
        assert torch.allclose(out[:, inner], expected.expand_as(out)[:, inner], atol=1e-12)


def test_gain_one_is_the_model_s_own_mel():
    mel = torch.randn(2, 80, 7)
    assert sharpen(mel, 1.0) is mel


def test_each_frame_is_filtered_on_its_own():
    mel = torch.randn(1, 80, 12)
    whole = sharpen(mel, 2.0)
    assert torch.equal(torch.cat([sharpen(mel[:, :, :5], 2.0), sharpen(mel[:, :, 5:], 2.0)], 2), whole)


def test_the_model_sharpens_its_postnet_output_in_mels_and_in_the_stream():
    torch.manual_seed(0)
    whole = dict(TINY, early_stopping=False)  # every row decodes all its steps: whole-batch chunks
    plain = Tacotron2(Tacotron2Config(**whole)).eval()
    sharp = Tacotron2(Tacotron2Config(**whole, fine_structure_gain=2.0)).eval()
    sharp.load_state_dict(plain.state_dict())
    reference = plain.infer_full(IDS, LENGTHS)
    out = sharp.infer_full(IDS, LENGTHS)
    assert torch.allclose(out.mel_postnet, sharpen(reference.mel_postnet, 2.0), atol=1e-6)
    assert not torch.allclose(out.mel_postnet, reference.mel_postnet, atol=1e-2)
    alone = sharp.infer_full(IDS[:1], LENGTHS[:1]).mel_postnet  # a stream encodes each row alone
    chunks = list(sharp.stream_mels(IDS[:1], LENGTHS[:1]))
    streamed = torch.cat([chunk.mel for chunk in chunks], 2)
    assert len(chunks) > 1 and torch.allclose(streamed, alone, atol=1e-5)


@pytest.mark.parametrize("gain", [-0.5, float("nan")])
def test_a_gain_below_zero_is_a_clear_error(gain):
    with pytest.raises(ConfigError, match="fine_structure_gain .* must be >= 0, got"):
        Tacotron2Config(fine_structure_gain=gain)


def test_the_option_reaches_the_model_from_the_config():
    overrides = [*TINY_TACOTRON2, "vocoder=griffinlim", "~voice"]
    assert Pipeline.from_overrides(overrides).acoustic.config.fine_structure_gain == 1.0
    tuned = Pipeline.from_overrides([*overrides, "acoustic.fine_structure_gain=1.5"])
    assert tuned.acoustic.config.fine_structure_gain == 1.5
