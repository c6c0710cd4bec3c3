"""The decoder's CUDA-graph blocks (graphs.py): k steps on fixed buffers, stop gates read once
per block. Without CUDA the same blocks run eagerly (`Decoder.graphs()`), and their steps
must be the step loop's own: values, stops and prenet draws. (The capture itself needs a GPU:
scripts/gpu_bench.py checks it there.)"""

from __future__ import annotations

import pytest
import torch

from ttsfw import Pipeline
from ttsfw.components.tacotron2.graphs import MAX_GRAPHS, MEMORY_BUCKET
from ttsfw.components.tacotron2.layers import Decoder
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.errors import ConfigError
from ttsfw.testing import TINY_TACOTRON2

TINY = dict(
    n_symbols=20, symbols_embedding_dim=8, encoder_embedding_dim=8, encoder_kernel_size=3,
    encoder_n_convolutions=2, attention_rnn_dim=16, attention_dim=8,
    attention_location_n_filters=2, attention_location_kernel_size=5, decoder_rnn_dim=16,
    prenet_dim=8, postnet_embedding_dim=8, postnet_kernel_size=3, postnet_n_convolutions=3,
)
LENGTHS = [40, 25, 9]  # memory of 40 symbols: padded to MEMORY_BUCKET's multiple in a block


def decoder_inputs(r: int = 1, time: int = 40):
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config(**TINY, n_frames_per_step=r)).eval()
    lengths = torch.tensor([min(n, time) for n in LENGTHS])
    ids = torch.randint(0, 20, (3, time))
    memory, pad_mask, _ = model.encode(ids, lengths)
    return model.decoder, memory, pad_mask


def generators(kind: str):
    """Fresh generators of a kind (seeded alike each call), or None for the global RNG."""
    if kind == "global":
        torch.manual_seed(7)
        return None
    if kind == "one":
        return torch.Generator().manual_seed(7)
    return [torch.Generator().manual_seed(7 + row) for row in range(3)]


def through_blocks(decoder):
    """`Decoder.steps` as the graphs give them."""
    def steps(*args, **kwargs):
        for block in decoder.graphs().step_blocks(*args, **kwargs):
            yield from zip(*block)
    return steps


def decode(decoder, memory, pad_mask, graphs: bool, kind: str = "rows", **options):
    steps = through_blocks(decoder) if graphs else decoder.steps
    # the gate never fires (sigmoid <= 1.0): rows stop at their limits, unless a test says otherwise
    settings = dict(max_steps=60, gate_threshold=1.0, early_stopping=True, dropout=True, limits=None)
    settings.update(options)
    with torch.inference_mode():
        taken = [
            tuple(t.clone() for t in step)
            for step in steps(memory, pad_mask, generator=generators(kind), **settings)
        ]
    return taken


def assert_same_steps(ours, theirs, atol: float = 0.0):
    """Equal steps; `atol` > 0 where the block pads a short memory (masked columns change
    nothing but the rounding of the softmax and context sums)."""
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for name, x, y in zip(("output", "alignment", "not_finished"), a, b):
            assert x.shape == y.shape, f"step {step}: {name} shapes differ"
            assert torch.allclose(x, y, rtol=0, atol=atol), f"step {step}: {name} differs"


@pytest.mark.parametrize("k", [1, 3, 7, 8])
@pytest.mark.parametrize("kind", ["global", "one", "rows"])
def test_blocks_of_k_steps_decode_as_the_step_loop_with_the_same_draws(k, kind):
    decoder, memory, pad_mask = decoder_inputs()
    decoder.cuda_graph_steps = k
    limits = torch.tensor([40, 25, 9], dtype=torch.int32)  # rows stop after steps 9, 25, 40: mid-block
    decode(decoder, memory.flip(1), pad_mask, True, kind, limits=limits // 2)  # the block's last utterance
    ours = decode(decoder, memory, pad_mask, True, kind, limits=limits)
    theirs = decode(decoder, memory, pad_mask, False, kind, limits=limits)
    assert_same_steps(ours, theirs)
    assert len(ours) == 41 and ours[9][2].tolist() == [1, 1, 0] and ours[40][2].tolist() == [0, 0, 0]


@pytest.mark.parametrize("r, time, early", [(2, 40, True), (1, 32, False), (1, 3, True)])
def test_frames_per_step_memory_lengths_and_no_early_stopping(r, time, early):
    decoder, memory, pad_mask = decoder_inputs(r, time)
    decoder.cuda_graph_steps = 7  # 60 steps = 8 blocks and 4 steps
    limits = torch.tensor([30, 20, 2], dtype=torch.int32)
    options = dict(limits=limits, early_stopping=early)
    ours = decode(decoder, memory, pad_mask, True, **options)
    assert_same_steps(ours, decode(decoder, memory, pad_mask, False, **options), 1e-6 if time < 32 else 0)
    assert len(ours) == (31 if early else 60)


def test_a_gate_that_fires_at_once_stops_within_the_first_block():
    decoder, memory, pad_mask = decoder_inputs()
    decoder.cuda_graph_steps = 8
    with torch.no_grad():
        decoder.gate_layer.linear_layer.bias.fill_(50.0)
    ours = decode(decoder, memory, pad_mask, True, gate_threshold=0.5)
    assert_same_steps(ours, decode(decoder, memory, pad_mask, False, gate_threshold=0.5))
    assert len(ours) == 1


def test_the_caller_generators_move_on_by_the_whole_blocks_drawn():
    decoder, memory, pad_mask = decoder_inputs()
    decoder.cuda_graph_steps = 8
    ours, theirs = generators("rows"), generators("rows")
    with torch.inference_mode():
        assert len(list(through_blocks(decoder)(memory, pad_mask, 20, 1.0, False, ours, True, None))) == 20
        list(decoder.steps(memory, pad_mask, 24, 1.0, False, theirs, True, None))
    # 20 steps are 3 blocks of 8 (the third queued while the second is read): the caller's
    # generators moved on by 24 steps' prenet draws
    for a, b in zip(ours, theirs):
        assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))


def test_one_block_serves_a_bucket_of_lengths_and_at_most_max_graphs_are_kept():
    decoder, memory, pad_mask = decoder_inputs()
    decoder.cuda_graph_steps = 4
    graphs = decoder.graphs()
    for time in (33, 40, 64):  # one bucket: (33 .. 64)
        decode(decoder, memory[:, :time], pad_mask[:, :time], True)
    assert [key[:2] for key in graphs.blocks] == [(3, 2 * MEMORY_BUCKET)]
    long = torch.randn(2, MAX_GRAPHS * MEMORY_BUCKET, memory.size(2))
    for batch in (1, 2):
        for time in range(1, long.size(1), MEMORY_BUCKET):  # MAX_GRAPHS buckets
            unpadded = torch.zeros(batch, time, dtype=torch.bool)
            decode(decoder, long[:batch, :time], unpadded, True, "one", max_steps=2)
    assert len(graphs.blocks) == MAX_GRAPHS
    assert list(graphs.blocks)[-1][:2] == (2, MAX_GRAPHS * MEMORY_BUCKET)  # the latest kept
    assert decoder.graphs() is graphs  # kept while the weights are the same
    decoder.weight_format = "bf16"
    assert decoder.graphs() is not graphs


def test_graph_steps_do_nothing_off_cuda_and_must_be_whole_and_not_negative():
    speak = [*TINY_TACOTRON2, "vocoder=griffinlim", "vocoder.n_iter=2", "acoustic.gate_threshold=1.0",
             "acoustic.max_decoder_steps=20"]
    tts = Pipeline.from_overrides([*speak, "acoustic.cuda_graph_steps=8"])
    assert tts.acoustic.decoder.cuda_graph_steps == 8
    plain = Pipeline.from_overrides(speak)
    ours = tts.synthesize(["Hello there."]).audio[0]  # seeded (the config's seed)
    assert ours.size > 0 and (ours == plain.synthesize(["Hello there."]).audio[0]).all()
    assert plain.acoustic.decoder._graphs is None and tts.acoustic.decoder._graphs is None
    for bad, message in (("-1", r" \(decoder steps per CUDA graph; 0 = no graphs\) must be a whole number >= 0, got -1"),
                         ("2.5", ": Value '2.5' of type 'float' could not be converted to Integer")):
        with pytest.raises(ConfigError, match=r"^acoustic.cuda_graph_steps" + message):
            Pipeline.from_overrides([*TINY_TACOTRON2, f"acoustic.cuda_graph_steps={bad}"])


@pytest.fixture
def blocks_on_the_cpu(monkeypatch):
    """Run the model's steps through the blocks (eagerly) as it would on a CUDA device."""
    monkeypatch.setattr(Decoder, "uses_graphs", lambda self, device: self.cuda_graph_steps > 0)


@pytest.mark.parametrize("r", [1, 2])
def test_the_model_and_its_stream_decode_through_blocks_as_through_the_step_loop(blocks_on_the_cpu, r):
    torch.manual_seed(0)
    options = dict(gate_threshold=1.0, max_frames_per_symbol=1.5, max_decoder_steps=80, n_frames_per_step=r)
    model = Tacotron2(Tacotron2Config(**TINY, **options)).eval()
    ids, lengths = torch.randint(0, 20, (3, 40)), torch.tensor([9, 40, 25])  # rows stop at their budgets

    def run(k: int):
        model.decoder.cuda_graph_steps = k
        seeded = [torch.Generator().manual_seed(row) for row in range(3)]
        whole = model.infer_full(ids, lengths, seeded)
        seeded = [torch.Generator().manual_seed(row) for row in range(3)]
        chunks = list(model.stream_mels(ids, lengths, seeded))
        return whole, chunks

    (ours, our_chunks), (theirs, their_chunks) = run(8), run(0)
    assert model.decoder._graphs is not None and model.decoder._graphs.blocks  # the blocks ran
    assert ours.mel_lengths.tolist() == theirs.mel_lengths.tolist() == [14, 60, 38]  # 1.5 frames a symbol
    for name in ("mel_postnet", "alignments", "gate"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert [(c.start, c.row, c.done) for c in our_chunks] == [(c.start, c.row, c.done) for c in their_chunks]
    for a, b in zip(our_chunks, their_chunks):
        assert torch.equal(a.mel, b.mel) and torch.equal(a.lengths, b.lengths)
