"""The frame budget (acoustic.max_frames_per_symbol): a row whose stop gate never fires is cut
at a length set by its input, in the decoder, the stream and the engine's report."""

from __future__ import annotations

import warnings

import pytest
import torch

from ttsfw import Pipeline
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.errors import ConfigError
from ttsfw.stages import MaxDecoderStepsWarning
from ttsfw.testing import TINY_TACOTRON2

TINY = dict(
    n_symbols=20, symbols_embedding_dim=8, encoder_embedding_dim=8, encoder_kernel_size=3,
    encoder_n_convolutions=2, attention_rnn_dim=16, attention_dim=8,
    attention_location_n_filters=2, attention_location_kernel_size=5, decoder_rnn_dim=16,
    prenet_dim=8, postnet_embedding_dim=8, postnet_kernel_size=3, postnet_n_convolutions=3,
    max_decoder_steps=12, prenet_dropout=False,
)
IDS = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0]])
LENGTHS = torch.tensor([5, 3])


def never_stopping(**options) -> Tacotron2:
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config(**{**TINY, **options})).eval()
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.bias.fill_(-50.0)  # the gate never fires
    return model


@pytest.mark.parametrize("r, base, lengths", [(1, 0, [10, 6]), (2, 0, [10, 6]), (2, 1.5, [12, 8])])
def test_a_row_that_never_stops_is_cut_at_its_budget_and_reported(r, base, lengths):
    model = never_stopping(n_frames_per_step=r, max_frames_per_symbol=2.0, frame_budget_base=base)
    with pytest.warns(MaxDecoderStepsWarning, match=r"frame budget \(max_frames_per_symbol=2.0 .* \[0, 1\]"):
        out = model.infer_full(IDS, LENGTHS)
    # 2 frames per 5 and 3 symbols, + base, rounded up to whole steps of r frames
    assert out.mel_lengths.tolist() == lengths
    assert out.hit_max_steps == [0, 1]
    assert out.mel.shape[2] == lengths[0] + r  # decoding ends a step after the last budget


def test_the_budget_never_exceeds_max_decoder_steps():
    model = never_stopping(max_frames_per_symbol=100.0)
    with pytest.warns(MaxDecoderStepsWarning):
        out = model.infer_full(IDS, LENGTHS)
    assert out.mel_lengths.tolist() == [12, 12] and out.hit_max_steps == [0, 1]


def test_a_budget_that_is_not_reached_changes_nothing():
    """Rows that stop by their gate decode exactly as without a budget (NVIDIA parity)."""
    torch.manual_seed(0)
    free = Tacotron2(Tacotron2Config(**{**TINY, "max_decoder_steps": 200})).eval()
    reference = free.infer_full(IDS, LENGTHS)
    assert max(reference.mel_lengths.tolist()) < 200  # it stops by itself
    budgeted = Tacotron2(Tacotron2Config(**{**TINY, "max_decoder_steps": 200, "max_frames_per_symbol": 40.0}))
    budgeted.load_state_dict(free.state_dict())
    out = budgeted.eval().infer_full(IDS, LENGTHS)
    assert torch.equal(out.mel_lengths, reference.mel_lengths)
    assert torch.equal(out.mel_postnet, reference.mel_postnet) and out.hit_max_steps == []


def test_the_stream_cuts_and_reports_at_the_budget_too():
    model = never_stopping(max_frames_per_symbol=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chunks = list(model.stream_mels(IDS, LENGTHS))
    assert chunks[-1].done and chunks[-1].lengths.tolist() == [10, 6]
    assert chunks[-1].hit_max_steps == [0, 1]
    # each row ends in a chunk of its own (the shorter first), reported as cut there too
    own = [(c.row, c.lengths.tolist(), c.hit_max_steps) for c in chunks if c.row is not None]
    assert own == [(1, [6], [0]), (0, [10], [0])]


@pytest.mark.parametrize("value", [0, -1.5])
def test_a_budget_must_be_positive(value):
    with pytest.raises(ConfigError, match=f"max_frames_per_symbol .* must be positive, or null for no budget; got {value}"):
        Tacotron2Config(max_frames_per_symbol=value)
    with pytest.raises(ConfigError, match=f"frame_budget_base .* must be >= 0, got {value - 1}"):
        Tacotron2Config(max_frames_per_symbol=1.0, frame_budget_base=value - 1)


def test_the_engine_names_the_budget_when_it_cuts(recwarn):
    """A gate that never fires: the budget, not max_decoder_steps, ends the piece."""
    overrides = [
        *TINY_TACOTRON2, "vocoder=griffinlim", "vocoder.n_iter=2", "denoiser=none",
        "acoustic.gate_threshold=1.0",  # never stops
        "acoustic.max_decoder_steps=1000", "acoustic.max_frames_per_symbol=1.5",
        "acoustic.frame_budget_base=3", "on_max_steps=warn",
    ]
    result = Pipeline.from_overrides(overrides).synthesize(["Hello."])
    utterance = result.utterances[0]
    assert utterance.hit_max_decoder_steps
    assert len(utterance.audio) == 12 * 256  # 6 symbols x 1.5 frames + 3
    messages = [str(w.message) for w in recwarn.list]
    assert any(
        "line 1, sentence 1 ('Hello.') reached its frame budget of 12 frames "
        "(acoustic.max_frames_per_symbol=1.5 x 6 symbols + acoustic.frame_budget_base=3)" in m
        for m in messages
    ), messages
