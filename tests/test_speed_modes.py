"""Fast modes of the Tacotron2 decoder: the packed fp32 default, precision=bf16, quantize=int8.

Each mode decodes the golden tiny Tacotron2 for a fixed number of steps (prenet dropout off) and
must stay within the deviation from fp32 documented in docs/performance.md. No timings here.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from ttsfw.errors import ConfigError
from ttsfw.components.tacotron2.factory import build_tacotron2
from ttsfw.components.tacotron2.load import load_tacotron2
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.components.tacotron2 import packed as packed_module
from ttsfw.components.tacotron2.packed import PackedDecoder
from ttsfw.quantize import Int8Linear
from ttsfw.precision import Precision, dtype as precision_dtype
from ttsfw.registry import BuildContext

#: documented bounds (docs/performance.md) on the golden model, 60 fixed steps, mel_postnet
DEVIATION_BOUNDS = {"bf16": (2e-2, 3e-3), "int8": (0.15, 2e-2)}  # (max abs, mean abs)
FIXED_STEPS = Tacotron2Config(max_decoder_steps=60, prenet_dropout=False, early_stopping=False)


@pytest.fixture(scope="module")
def cases(golden):
    return torch.load(golden / "tacotron2" / "cases.pt", map_location="cpu", weights_only=True)


def golden_model(golden, weight_format: str = "fp32") -> Tacotron2:
    model = load_tacotron2(golden / "tacotron2" / "ckpt_dle.pt", **FIXED_STEPS.behaviour())
    model.decoder.weight_format = weight_format
    return model


@pytest.fixture(scope="module")
def fp32_outputs(golden, cases):
    model = golden_model(golden)
    return {case: model.infer_full(cases[case]["ids"], cases[case]["lengths"]) for case in cases}


@pytest.mark.parametrize("weight_format", sorted(DEVIATION_BOUNDS))
@pytest.mark.parametrize("case", ["b1", "b2"])
def test_fast_mode_stays_within_its_documented_deviation(
    golden, cases, fp32_outputs, weight_format, case
):
    out = golden_model(golden, weight_format).infer_full(cases[case]["ids"], cases[case]["lengths"])
    reference = fp32_outputs[case]
    assert out.mel_postnet.dtype == torch.float32
    assert out.mel_postnet.shape == reference.mel_postnet.shape
    deviation = (out.mel_postnet - reference.mel_postnet).abs()
    max_bound, mean_bound = DEVIATION_BOUNDS[weight_format]
    assert deviation.max() <= max_bound and deviation.mean() <= mean_bound
    assert deviation.max() > 0  # the mode really ran in reduced precision
    torch.testing.assert_close(out.alignments.sum(2), torch.ones_like(out.alignments.sum(2)))


def test_deviation_from_fp32_reports_the_mode_and_restores_the_model(golden, cases):
    ids, lengths = cases["b1"]["ids"], cases["b1"]["lengths"]
    model = golden_model(golden, "int8")
    model.decoder.prenet.dropout = True
    deviation = model.deviation_from_fp32(ids, lengths)
    max_bound, mean_bound = DEVIATION_BOUNDS["int8"]
    assert 0 < deviation["mel_max_abs_deviation"] <= max_bound
    assert 0 < deviation["mel_mean_abs_deviation"] <= mean_bound
    assert model.decoder.weight_format == "int8" and model.decoder.prenet.dropout is True
    fp32 = golden_model(golden).deviation_from_fp32(ids, lengths)
    assert fp32 == {"mel_max_abs_deviation": 0.0, "mel_mean_abs_deviation": 0.0}


def assert_packed_decoder_matches_the_unpacked_modules(model: Tacotron2, out, lengths) -> None:
    """The packed step (fused LSTM GEMVs, W^T layout) of `out` against a step written with the
    modules themselves, as in training, fed the previous step's r frames: equal within the
    golden tolerance. Step k's n_mel * r outputs are frames k r .. k r + r - 1 of the mel."""
    decoder, r = model.decoder, model.config.n_frames_per_step
    memory = out.encoder_outputs
    pad_mask = torch.arange(memory.size(1)) >= lengths.unsqueeze(1)
    with torch.inference_mode():
        processed = decoder.attention_layer.memory_layer(memory)
        state = decoder.initial_state(memory)
        frames = memory.new_zeros(memory.size(0), 80 * r)
        for step in range(out.gate.size(1)):
            prenet = decoder.prenet(frames)
            state.attention_hidden, state.attention_cell = decoder.attention_rnn(
                torch.cat((prenet, state.context), -1),
                (state.attention_hidden, state.attention_cell),
            )
            state.context, weights = decoder.attention_layer(
                state.attention_hidden, memory, processed, state.weights_cat, pad_mask
            )
            state.weights_cat[:, 0] = weights
            state.weights_cat[:, 1] += weights
            state.decoder_hidden, state.decoder_cell = decoder.decoder_rnn(
                torch.cat((state.attention_hidden, state.context), -1),
                (state.decoder_hidden, state.decoder_cell),
            )
            frames = decoder.linear_projection(torch.cat((state.decoder_hidden, state.context), 1))
            expected = out.mel[:, :, step * r : (step + 1) * r]
            torch.testing.assert_close(
                frames.unflatten(1, (r, 80)).transpose(1, 2), expected, atol=1e-5, rtol=0
            )
            torch.testing.assert_close(weights, out.alignments[:, step], atol=1e-5, rtol=0)


def test_default_fp32_decoder_matches_the_unpacked_modules(golden, cases, fp32_outputs):
    model, case = golden_model(golden), cases["b2"]
    assert_packed_decoder_matches_the_unpacked_modules(model, fp32_outputs["b2"], case["lengths"])


@pytest.mark.parametrize("r", [2, 3])
def test_packed_decoder_of_r_frames_matches_the_unpacked_modules(r):
    torch.manual_seed(0)
    config = replace(FIXED_STEPS, n_symbols=20, n_frames_per_step=r, max_decoder_steps=12)
    model = Tacotron2(config).eval()
    ids, lengths = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, 0, 0]]), torch.tensor([5, 3])
    out = model.infer_full(ids, lengths)
    assert out.mel.shape == (2, 80, 12 * r) and out.alignments.shape == (2, 12, 5)
    assert_packed_decoder_matches_the_unpacked_modules(model, out, lengths)


def test_weights_are_packed_once_and_repacked_after_loading(golden, cases):
    model = golden_model(golden)
    ids, lengths = cases["b1"]["ids"], cases["b1"]["lengths"]
    first = model.infer(ids, lengths)[0]
    packed = model.decoder.packed()
    model.infer(ids, lengths)
    assert model.decoder.packed() is packed
    state = {k: v * 0.5 if "decoder_rnn" in k else v for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.decoder.packed() is not packed
    assert not torch.allclose(model.infer(ids, lengths)[0], first)
    model.decoder.weight_format = "int8"
    assert model.decoder.packed().decoder_gates is not packed.decoder_gates


@pytest.mark.parametrize("weight_format", ["bf16", "fp16"])
def test_half_precision_weights_without_onednn_support_take_plain_linear(monkeypatch, weight_format):
    # oneDNN's packed bf16/fp16 layout needs AVX-512 (or AVX-NE-CONVERT/AMX): on an AVX2 CPU its
    # reorder raised RuntimeError, so there the weights stay a plain half-precision tensor
    monkeypatch.setattr(packed_module, "cpu_has_native", lambda name: False)
    weight, bias, x = torch.randn(24, 16), torch.randn(24), torch.randn(3, 16)
    linear = packed_module.pack_linear(weight, bias, weight_format)
    half = precision_dtype(weight_format)
    expected = torch.nn.functional.linear(x.to(half), weight.to(half), bias.to(half)).float()
    assert linear(x).dtype == torch.float32 and torch.equal(linear(x), expected)


def test_int8_keeps_the_prenet_fp32(golden):
    packed = golden_model(golden, "int8").decoder.packed()
    int8 = [packed.attention_gates, packed.query, packed.decoder_gates, packed.frame_and_gate]
    assert all(isinstance(linear, Int8Linear) for linear in int8)
    assert not any(isinstance(linear, Int8Linear) for linear in packed.prenet_layers)


def test_a_used_model_pickles_without_its_packed_weights(golden, cases, tmp_path):
    model = golden_model(golden, "int8")
    expected = model.infer(cases["b1"]["ids"], cases["b1"]["lengths"])[0]
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)  # our own whole-module file
    assert loaded.decoder._packed is None and loaded.decoder.weight_format == "int8"
    torch.testing.assert_close(
        loaded.infer(cases["b1"]["ids"], cases["b1"]["lengths"])[0], expected
    )


def test_model_built_under_inference_mode_decodes():
    with torch.inference_mode():  # its parameters are inference tensors (no version counter)
        model = Tacotron2(Tacotron2Config(n_symbols=20, max_decoder_steps=3, early_stopping=False))
        mel = model.eval().infer(torch.tensor([[1, 2, 3]]), torch.tensor([3]))[0]
    assert mel.shape == (1, 80, 3) and torch.isfinite(mel).all()


def test_factory_picks_the_weight_format_from_the_context_precision():
    def build(precision="fp32", quantize="none"):
        cfg = {"name": "tacotron2", "checkpoint": "random", "n_symbols": 20}
        model = build_tacotron2(cfg, BuildContext(precision=Precision(precision, quantize)))
        return model.decoder.weight_format, model.formats()["decoder steps"]

    assert build() == ("fp32", "fp32")
    assert build("bf16") == ("bf16", "bf16")
    assert build(quantize="int8") == ("int8", "int8")
    assert build("bf16", quantize="int8") == ("int8", "int8")


def test_bad_quantize_values_name_the_choices():
    cfg = {"name": "tacotron2", "checkpoint": "random", "n_symbols": 20}
    with pytest.raises(ConfigError, match=r"unknown quantize='int4'; choose one of none, int8"):
        Precision("fp32", "int4")
    gpu = SimpleNamespace(device=torch.device("cuda"))
    with pytest.raises(ConfigError, match=r"quantize=int8 runs on the CPU only .* not on cuda"):
        build_tacotron2(cfg, BuildContext(device=gpu, precision=Precision("fp32", "int8")))
    with pytest.raises(ValueError, match=r"weight_format must be one of .* got 'int4'"):
        model = Tacotron2(Tacotron2Config(n_symbols=20))
        PackedDecoder(model.decoder, "int4")


@pytest.mark.parametrize(
    "overrides, weight_format",
    [(["quantize=int8"], "int8"), (["precision=bf16"], "bf16")],
)
def test_pipeline_runs_each_fast_mode(overrides, weight_format):
    from ttsfw.pipeline import Pipeline

    tiny = [
        "acoustic.checkpoint=random",
        "acoustic.attention_rnn_dim=32",
        "acoustic.decoder_rnn_dim=32",
        "acoustic.early_stopping=false",
        "acoustic.max_decoder_steps=8",
        "vocoder=griffinlim",
        "vocoder.n_iter=2",
        "denoiser=none",
    ]
    pipeline = Pipeline.from_overrides(tiny + overrides)
    assert pipeline.acoustic.decoder.weight_format == weight_format
    mel, _, _ = pipeline.acoustic.infer(torch.tensor([[5, 6, 7]]), torch.tensor([3]))
    assert mel.shape == (1, 80, 8) and torch.isfinite(mel).all()
