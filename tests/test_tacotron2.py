"""Tacotron2: golden parity with NVIDIA's reference, batching, loading, factory, plots."""

from __future__ import annotations

import contextlib
import json
import warnings

import pytest
import torch

from ttsfw.components.tacotron2.factory import build_tacotron2
from ttsfw.components.tacotron2.load import load_tacotron2
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.errors import CheckpointError, ConfigError, InputError, LegacyCheckpointError
from ttsfw.stages import MaxDecoderStepsWarning
from ttsfw.weights.load import load_checkpoint
from ttsfw.plots import save_plots
from ttsfw.registry import BuildContext

TOLERANCE = {
    "encoder_outputs": 1e-5,
    "mel": 1e-5,
    "mel_postnet": 1e-5,
    "alignments": 1e-5,
    "gate": 1e-4,
}
#: the golden model decodes at most 60 steps; prenet dropout off except in b1_dropout
GOLDEN_BEHAVIOUR = dict(max_decoder_steps=60, prenet_dropout=False)
TINY = dict(
    n_symbols=20,
    symbols_embedding_dim=8,
    encoder_embedding_dim=8,
    encoder_kernel_size=3,
    encoder_n_convolutions=2,
    attention_rnn_dim=16,
    attention_dim=8,
    attention_location_n_filters=2,
    attention_location_kernel_size=5,
    decoder_rnn_dim=16,
    prenet_dim=8,
    postnet_embedding_dim=8,
    postnet_kernel_size=3,
    postnet_n_convolutions=3,
    max_decoder_steps=12,
    prenet_dropout=False,
)


@pytest.fixture(scope="module")
def cases(golden):
    return torch.load(golden / "tacotron2" / "cases.pt", map_location="cpu", weights_only=True)


def golden_model(golden, file="ckpt_dle.pt", **behaviour) -> Tacotron2:
    return load_tacotron2(golden / "tacotron2" / file, **{**GOLDEN_BEHAVIOUR, **behaviour})


def tiny_model(seed=0, **options) -> Tacotron2:
    torch.manual_seed(seed)
    return Tacotron2(Tacotron2Config(**{**TINY, **options})).eval()


@contextlib.contextmanager
def no_max_steps_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", MaxDecoderStepsWarning)
        yield


def assert_matches(out, expected):
    assert out.mel_lengths.dtype == torch.int32
    assert out.mel_lengths.tolist() == expected["mel_lengths"].tolist()
    for name, tolerance in TOLERANCE.items():
        actual = getattr(out, name)
        assert actual.shape == expected[name].shape, name
        assert (actual - expected[name]).abs().max().item() <= tolerance, name


@pytest.mark.parametrize("file", ["ckpt_dle.pt", "ckpt_nvidia.pt"])
@pytest.mark.parametrize("case", ["b2", "b1", "b1_max"])
def test_golden_cases(golden, cases, file, case):
    expected = cases[case]
    with pytest.warns(MaxDecoderStepsWarning) if case == "b1_max" else no_max_steps_warning():
        out = golden_model(golden, file).infer_full(expected["ids"], expected["lengths"])
    assert_matches(out, expected)


def test_golden_prenet_dropout_with_private_generator(golden, cases):
    expected = cases["b1_dropout"]
    model = golden_model(golden, prenet_dropout=True)
    generator = torch.Generator().manual_seed(1234)
    assert_matches(model.infer_full(expected["ids"], expected["lengths"], generator), expected)
    # the global RNG was not touched, and another seed gives another mel
    other = model.infer_full(expected["ids"], expected["lengths"], torch.Generator().manual_seed(1))
    assert (other.mel[..., :5] - expected["mel"][..., :5]).abs().max() > 1e-3


def test_seeded_global_rng_gives_the_reference_prenet_draws(golden, cases):
    expected = cases["b1_dropout"]  # torch.manual_seed(1234) just before DLE's infer
    model = load_tacotron2(golden / "tacotron2" / "ckpt_dle.pt")  # dropout on, as DLE's
    torch.manual_seed(1234)
    assert_matches(model.infer_full(expected["ids"], expected["lengths"]), expected)


def test_load_takes_the_files_decoding_settings_unless_told_otherwise(golden, tmp_path):
    """As torch.hub's nvidia_tacotron2 builds from the config a DLE file stores."""
    path = golden / "tacotron2" / "ckpt_dle.pt"
    stored = dict(
        max_decoder_steps=60, gate_threshold=0.5, early_stopping=True, prenet_dropout=True,
        max_frames_per_symbol=None, frame_budget_base=0.0,  # DLE has no frame budget
        fine_structure_gain=1.0,  # nor a postfilter
    )
    assert load_tacotron2(path).config.behaviour() == stored
    told = dict(
        max_decoder_steps=45, gate_threshold=0.7, early_stopping=False, prenet_dropout=False,
        max_frames_per_symbol=3.5, frame_budget_base=20.0, fine_structure_gain=1.5,
    )
    assert load_tacotron2(path, **told).config.behaviour() == told
    assert load_tacotron2(path, gate_threshold=0.7).config.behaviour() == {**stored, "gate_threshold": 0.7}
    no_config = load_tacotron2(golden / "tacotron2" / "ckpt_nvidia.pt")  # NVIDIA/tacotron2: none
    assert no_config.config.behaviour() == Tacotron2Config().behaviour()
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["decoder_no_early_stopping"] = True  # DLE's name for early_stopping off
    torch.save(checkpoint, tmp_path / "no_early_stopping.pt")
    assert load_tacotron2(tmp_path / "no_early_stopping.pt").config.early_stopping is False
    assert load_tacotron2(tmp_path / "no_early_stopping.pt", early_stopping=True).config.early_stopping


def test_prenet_dropout_is_switched_per_call(golden, cases):
    model = load_tacotron2(golden / "tacotron2" / "ckpt_dle.pt")  # dropout on
    expected = cases["b1"]  # dropout off
    state = torch.get_rng_state()
    off = model.infer_full(expected["ids"], expected["lengths"], prenet_dropout=False)
    assert torch.equal(torch.get_rng_state(), state)  # nothing drawn
    assert_matches(off, expected)
    mel, _, _ = model.infer(expected["ids"], expected["lengths"], prenet_dropout=False)
    assert torch.equal(mel, off.mel_postnet) and model.decoder.prenet.dropout  # the model's is kept
    seeded = cases["b1_dropout"]
    generator = torch.Generator().manual_seed(1234)
    on = golden_model(golden).infer_full(seeded["ids"], seeded["lengths"], generator, prenet_dropout=True)
    assert_matches(on, seeded)


def test_infer_returns_the_contract_tuple(golden, cases):
    expected = cases["b2"]
    mel, mel_lengths, alignments = golden_model(golden).infer(expected["ids"], expected["lengths"])
    assert torch.equal(
        mel, golden_model(golden).infer_full(expected["ids"], expected["lengths"]).mel_postnet
    )
    assert mel_lengths.tolist() == [37, 20]
    assert alignments.shape == (2, 38, 86)


def test_outputs_follow_caller_order(golden, cases):
    expected = cases["b2"]
    flip = torch.tensor([1, 0])
    ids = expected["ids"][flip]  # short item first: rows are no longer sorted by length
    out = golden_model(golden).infer_full(ids, expected["lengths"][flip])
    assert_matches(out, {k: v[flip] for k, v in expected.items()})


def test_extra_padding_columns_change_nothing(golden, cases):
    expected = cases["b1"]
    ids = torch.nn.functional.pad(expected["ids"], (0, 5))
    out = golden_model(golden).infer_full(ids, expected["lengths"])
    assert out.alignments.shape == (1, 30, 49) and out.encoder_outputs.shape == (1, 49, 32)
    assert torch.all(out.alignments[..., 44:] == 0) and torch.all(out.encoder_outputs[:, 44:] == 0)
    out.alignments, out.encoder_outputs = out.alignments[..., :44], out.encoder_outputs[:, :44]
    assert_matches(out, expected)


def test_max_decoder_steps_warning_names_caller_indices(golden, cases):
    expected = cases["b2"]  # item 0 stops at step 38, item 1 at step 21
    flip = torch.tensor([1, 0])
    model = golden_model(golden, max_decoder_steps=32)
    with pytest.warns(
        MaxDecoderStepsWarning, match=r"max_decoder_steps=32 .* item\(s\) \[1\]"
    ) as record:
        mel, mel_lengths, _ = model.infer(expected["ids"][flip], expected["lengths"][flip])
    assert record[0].message.items == [1]
    assert model.last_hit_max_steps == [1]
    assert mel.shape[-1] == 32 and mel_lengths.tolist() == [20, 32]
    with no_max_steps_warning():
        model.infer(cases["b1"]["ids"], cases["b1"]["lengths"])  # stops at step 30
    assert model.last_hit_max_steps == []
    # what the pipeline reads: the same cut rows, typed, no side channel
    with pytest.warns(MaxDecoderStepsWarning):
        batch = model.mels(expected["ids"][flip], expected["lengths"][flip])
    assert batch.hit_max_steps == [1] and torch.equal(batch.mel, mel) and batch.lengths.tolist() == [20, 32]


def test_early_stopping_off_decodes_exactly_max_steps(golden, cases):
    expected = cases["b1"]
    with no_max_steps_warning():
        out = golden_model(golden, max_decoder_steps=45, early_stopping=False).infer_full(
            expected["ids"], expected["lengths"]
        )
    assert out.mel.shape == (1, 80, 45)
    assert out.mel_lengths.tolist() == [29]  # still where the gate first fired
    assert (out.mel[..., :30] - expected["mel"]).abs().max() <= 1e-5


def test_full_size_model_matches_spec_manifest(golden):
    spec = json.loads((golden / "spec" / "tacotron2.json").read_text())
    model, default = Tacotron2(Tacotron2Config.from_mapping(spec["config"])), Tacotron2()
    expected = {key: list(shape) for key, shape in spec["state_dict"].items()}
    for built in (model, default):
        assert {k: list(v.shape) for k, v in built.state_dict().items()} == expected
        assert sum(p.numel() for p in built.parameters()) == spec["num_parameters"] == 28_193_153


def test_config_accepts_dle_kwargs_and_rejects_unknown(golden):
    dle = json.loads((golden / "tacotron2" / "cases.json").read_text())["config"]
    config = Tacotron2Config.from_mapping({**dle, "decoder_no_early_stopping": True})
    assert (
        config.prenet_dim == 16
        and config.max_decoder_steps == 60
        and config.early_stopping is False
    )
    with pytest.raises(ConfigError, match="unknown tacotron2 option.*max_decoder_step\\b"):
        Tacotron2Config.from_mapping({"max_decoder_step": 10})
    for r in (0, -1):
        with pytest.raises(ConfigError, match=f"n_frames_per_step .* at least 1, got {r}"):
            Tacotron2Config(n_frames_per_step=r)


@pytest.mark.parametrize("r", [2, 3])
def test_r_frames_per_step_decode_in_steps_of_r(r):
    model = tiny_model(n_frames_per_step=r, max_decoder_steps=7, early_stopping=False)
    ids, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    out = model.infer_full(ids, lengths)
    assert out.mel.shape == out.mel_postnet.shape == (2, 80, 7 * r)
    assert out.gate.shape == (2, 7) and out.alignments.shape == (2, 7, 4)
    torch.testing.assert_close(out.alignments.sum(2), torch.ones(2, 7))
    assert torch.all(out.alignments[1, :, 2:] == 0)
    steps_before_stop = (torch.sigmoid(out.gate) <= 0.5).int().cumprod(1).sum(1)
    assert out.mel_lengths.tolist() == (steps_before_stop * r).tolist()


@pytest.mark.parametrize("r", [2, 3])
def test_max_decoder_steps_counts_steps_of_r_frames(r):
    model = tiny_model(n_frames_per_step=r, max_decoder_steps=7)
    ids, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    gate_bias = model.decoder.gate_layer.linear_layer.bias
    with torch.no_grad():
        gate_bias.fill_(-50.0)  # the gate never fires
    with pytest.warns(MaxDecoderStepsWarning, match=f"max_decoder_steps=7 .* cut at {7 * r} "):
        out = model.infer_full(ids, lengths)
    assert out.mel.shape == (2, 80, 7 * r) and out.alignments.shape == (2, 7, 4)
    assert out.mel_lengths.tolist() == [7 * r, 7 * r] and out.hit_max_steps == [0, 1]
    with torch.no_grad():
        gate_bias.fill_(50.0)  # it fires at the first step, which is left out (DLE)
    with no_max_steps_warning():
        out = model.infer_full(ids, lengths)
    assert out.mel.shape == (2, 80, r) and out.mel_lengths.tolist() == [0, 0]


def test_steps_hold_r_consecutive_frames_frame_major():
    decoder = tiny_model(n_frames_per_step=3).decoder
    mel = torch.randn(2, 80, 6)
    steps = decoder.frames_to_steps(mel)
    assert steps.shape == (2, 2, 240)
    assert torch.equal(steps[1, 0].view(3, 80), mel[0, :, 3:6].T)  # step 1 = frames 3, 4, 5
    assert torch.equal(decoder.steps_to_frames(steps), mel)
    with pytest.raises(ValueError, match="7 mel frames are not a multiple of n_frames_per_step=3"):
        decoder.frames_to_steps(torch.randn(2, 80, 7))


@pytest.mark.parametrize("r", [1, 2])
def test_nvidia_layout_file_written_on_the_fly(tmp_path, r):
    source = tiny_model(n_frames_per_step=r)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "tacotron2_statedict.pt"
    torch.save({"state_dict": state}, path)  # no config, no prefix, no num_batches_tracked
    loaded = load_tacotron2(path, max_decoder_steps=12, prenet_dropout=False)
    assert loaded.config == source.config and loaded.config.n_frames_per_step == r
    ids, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    assert torch.equal(loaded.infer(ids, lengths)[0], source.infer(ids, lengths)[0])


def test_prenet_and_projection_must_agree_on_r(tmp_path):
    state = tiny_model(n_frames_per_step=2).state_dict()
    for name in ("weight", "bias"):
        key = f"decoder.linear_projection.linear_layer.{name}"
        state[key] = state[key][:80]  # a projection of one frame behind a prenet of two
    torch.save({"state_dict": state}, tmp_path / "edited.pt")
    with pytest.raises(
        CheckpointError, match="prenet reads 160 values and its mel projection writes 80"
    ):
        load_tacotron2(tmp_path / "edited.pt")


def test_dle_layout_file_with_prefix_and_config(tmp_path):
    source = tiny_model()
    path = tmp_path / "dle.pt"
    torch.save(
        {
            "epoch": 3,
            "config": source.config.architecture(),
            "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
        },
        path,
    )
    loaded = load_tacotron2(path)
    assert loaded.config.architecture() == source.config.architecture()
    assert loaded.config.max_decoder_steps == 2000  # the file stores no decoding settings


def test_fp16_checkpoint_loads_into_fp32_model(tmp_path):
    source = tiny_model()
    path = tmp_path / "fp16.pt"
    torch.save(
        {
            "state_dict": {
                k: v.half() if v.is_floating_point() else v for k, v in source.state_dict().items()
            }
        },
        path,
    )
    loaded = load_tacotron2(path)
    weight = loaded.decoder.attention_rnn.weight_ih
    assert weight.dtype == torch.float32
    assert torch.equal(weight, source.decoder.attention_rnn.weight_ih.half().float())


def test_symbol_table_mismatch_names_key_shapes_and_cause(tmp_path):
    state = tiny_model(n_symbols=149).state_dict()
    path = tmp_path / "old.pt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError) as error:
        load_tacotron2(path, n_symbols=148)
    message = str(error.value)
    assert "embedding.weight" in message and "(149, 8)" in message and "(148, 8)" in message
    assert "pre-2018-11" in message and "symbol table" in message


def test_file_config_disagreeing_with_tensors(tmp_path):
    source = tiny_model()
    path = tmp_path / "edited.pt"
    torch.save(
        {
            "config": {**source.config.architecture(), "prenet_dim": 32},
            "state_dict": source.state_dict(),
        },
        path,
    )
    with pytest.raises(
        CheckpointError,
        match=r"decoder.prenet.layers.0.linear_layer.weight has shape "
        r"\(8, 80\) .* \(32, 80\) is expected: .*file's config",
    ):
        load_tacotron2(path)


def test_missing_file_and_wrong_kind_of_file(tmp_path, golden):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_tacotron2(tmp_path / "nope.pt")
    with pytest.raises(LegacyCheckpointError, match=r"python -m ttsfw convert .* --trust"):
        load_tacotron2(golden / "waveglow" / "legacy_nvidia_pickle.pt")
    with pytest.raises(
        CheckpointError, match="not a Tacotron2 checkpoint.*WaveGlow.*vocoder.checkpoint"
    ):
        load_tacotron2(golden / "waveglow" / "ckpt_dle.pt")
    partial = tmp_path / "partial.pt"
    torch.save(
        {k: v for k, v in tiny_model().state_dict().items() if "gate_layer" not in k}, partial
    )
    with pytest.raises(CheckpointError, match="missing decoder.gate_layer.linear_layer.weight"):
        load_tacotron2(partial)


def test_bad_inputs():
    model = tiny_model()
    with pytest.raises(InputError, match="empty text"):
        model.infer(torch.tensor([[3, 4], [0, 0]]), torch.tensor([2, 0]))
    with pytest.raises(InputError, match=r"symbol ids must lie in \[0, 20\)"):
        model.infer(torch.tensor([[3, 25]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="expects ids"):
        model.infer(torch.tensor([3, 4]), torch.tensor([2]))


def test_factory_checkpoint_null_random_and_path(golden, cases):
    base = {"name": "tacotron2", **TINY}
    with pytest.raises(
        ConfigError, match="acoustic.checkpoint is not set: set acoustic.checkpoint=PATH"
    ):
        build_tacotron2({**base, "checkpoint": None}, BuildContext())
    first, again, other = (
        build_tacotron2({**base, "checkpoint": "random", "init_seed": seed}, BuildContext())
        for seed in (7, 7, 8)
    )
    weight = "decoder.attention_rnn.weight_ih"
    assert torch.equal(first.state_dict()[weight], again.state_dict()[weight])
    assert not torch.equal(first.state_dict()[weight], other.state_dict()[weight])

    from ttsfw.plugins import get_registry

    factory = get_registry().get("acoustic", "tacotron2").load()
    cfg = {
        "name": "tacotron2",
        "checkpoint": str(golden / "tacotron2" / "ckpt_nvidia.pt"),
        "max_decoder_steps": 60,
        "prenet_dropout": False,
    }
    frontend = type("Frontend", (), {"symbols": ["_"] * 148})()
    model = factory(cfg, BuildContext(frontend=frontend)).eval()
    assert_matches(model.infer_full(cases["b1"]["ids"], cases["b1"]["lengths"]), cases["b1"])


def test_shipped_yaml_builds_the_full_size_architecture():
    from ttsfw.config import compose_config

    cfg = compose_config(["acoustic=tacotron2", "~voice"])[0].acoustic  # the shipped file, composed
    assert cfg.name == "tacotron2" and cfg.checkpoint is None and "quantize" not in cfg  # top level
    skip = ("name", "checkpoint", "init_seed", "cuda_graph_steps")  # the factory's own
    options = {k: v for k, v in cfg.items() if k not in skip}
    assert Tacotron2Config.from_mapping(options) == Tacotron2Config()


def test_save_plots_writes_pngs(tmp_path, golden, cases):
    expected = cases["b2"]
    paths = save_plots(
        expected["mel_postnet"][0], expected["alignments"][0], tmp_path / "plots" / "utt0"
    )
    assert [p.name for p in paths] == ["utt0_mel.png", "utt0_alignment.png"]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    with pytest.raises(ValueError, match="2-D"):
        save_plots(expected["mel_postnet"], expected["alignments"][0], tmp_path / "bad")


def test_pipeline_end_to_end_reproduces_the_seeded_golden_case(golden, cases, tmp_path):
    from ttsfw import Pipeline

    expected = cases["b1_dropout"]  # the pipeline's seed=1234 generator drives prenet dropout
    tts = Pipeline.from_overrides(
        [
            f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}",
            "acoustic.max_decoder_steps=60",
            "vocoder=griffinlim",
            "vocoder.n_iter=2",
            "denoiser=none",
            "device=cpu",
            "seed=1234",
        ]
    )
    utterance = tts.synthesize(["The quick brown fox jumps over the lazy dog."]).utterances[0]
    assert utterance.mel.shape == (80, 29) and not utterance.hit_max_decoder_steps
    assert (utterance.mel - expected["mel_postnet"][0, :, :29]).abs().max() <= 1e-5
    assert (utterance.alignment - expected["alignments"][0, :29]).abs().max() <= 1e-5
    assert len(utterance.audio) == 29 * 256
