"""WaveGlow: golden parity for every checkpoint layout, shape-detected sizes, the full-size key
manifests, noise control, device/dtype moves after a first inference, factory and errors."""

from __future__ import annotations

import json

import pytest
import torch

from test_convert import Payload
from ttsfw.weights.convert import convert
from ttsfw.weights.load import load_checkpoint, unwrap
from ttsfw.errors import CheckpointError, ConfigError, LegacyCheckpointError
from ttsfw.components.waveglow.factory import build_waveglow
from ttsfw.components.waveglow.load import load_waveglow
from ttsfw.components.waveglow.model import WaveGlow, WaveGlowConfig
from ttsfw.plugins import get_registry
from ttsfw.precision import Precision
from ttsfw.registry import BuildContext

TOLERANCE = 1e-4  # golden/README.md: WaveGlow audio
TINY = dict(
    n_mel_channels=80,
    n_flows=4,
    n_group=8,
    n_early_every=2,
    n_early_size=2,
    n_layers=2,
    kernel_size=3,
    n_channels=16,
)  # the golden model
SMALL = TINY | dict(n_mel_channels=8, n_channels=4)  # for tests that need no golden weights


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a.double() - b.double()).abs().max().item()


@pytest.fixture(scope="module")
def io(golden):
    return torch.load(golden / "waveglow" / "io.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def converted(golden, tmp_path_factory):
    """The legacy NVIDIA pickle, converted to a tensor file."""
    path = tmp_path_factory.mktemp("convert") / "waveglow.pt"
    convert(golden / "waveglow" / "legacy_nvidia_pickle.pt", path, trust=True)
    return path


@pytest.fixture(
    scope="module",
    params=["ckpt_dle.pt", "ckpt_nvidia_fused.pt", "converted legacy pickle", "trusted legacy pickle"],
)
def model(request, golden, converted):
    name = request.param
    if name == "trusted legacy pickle":  # read in memory, no file written
        return load_waveglow(golden / "waveglow" / "legacy_nvidia_pickle.pt", trust=True)
    return load_waveglow(converted if name.startswith("converted") else golden / "waveglow" / name)


def noise(io):
    return [io["noise_0"], io["noise_1"]]


@torch.inference_mode()
def test_sigma0_matches_golden(model, io):
    assert max_error(model.infer(io["mel"], sigma=0.0), io["audio_sigma0"]) <= TOLERANCE


@torch.inference_mode()
def test_seeded_sigma06_matches_golden_with_private_generator(model, io):
    generator = torch.Generator().manual_seed(1234)
    audio = model.infer(io["mel"], generator=generator, sigma=0.6)
    assert max_error(audio, io["audio_sigma0.6_seed1234"]) <= TOLERANCE


@torch.inference_mode()
def test_sigma06_matches_golden_by_noise_injection(model, io):
    assert model.sigma == 0.6  # the default
    assert (
        max_error(model.infer(io["mel"], noise=noise(io)), io["audio_sigma0.6_seed1234"])
        <= TOLERANCE
    )


def test_sizes_come_from_tensor_shapes(model):
    assert model.config == WaveGlowConfig(**TINY)
    assert (model.sample_rate, model.hop_length, model.n_mel_channels) == (22050, 256, 80)


def test_remove_weightnorm_runs_as_the_references_and_changes_nothing(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert model.remove_weightnorm(model) is model
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_inference_form_has_weight_norm_folded_and_cond_layers_fused(model):
    keys = set(model.state_dict())
    assert not any(key.endswith(("weight_g", "weight_v")) for key in keys)
    assert "WN.0.cond_layer.weight" in keys and not any(".cond_layers." in key for key in keys)
    assert model.state_dict()["WN.0.cond_layer.weight"].shape == (2 * 16 * 2, 640, 1)


@torch.inference_mode()
def test_output_length_is_256_per_frame():
    model = WaveGlow(WaveGlowConfig(**SMALL)).eval()
    for frames in (1, 7):
        assert model.infer(torch.randn(3, 8, frames)).shape == (3, 256 * frames)


@torch.inference_mode()
def test_moving_dtype_after_first_inference_recomputes_inverses(golden, io):
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    first = model.infer(io["mel"], noise=noise(io))
    model.double()
    assert model.convinv[0].W_inverse.dtype == torch.float64
    wide = model.infer(io["mel"].double(), noise=noise(io))
    assert wide.dtype == torch.float64
    assert max_error(wide, io["audio_sigma0.6_seed1234"]) <= TOLERANCE
    model.float()
    assert model.convinv[0].W_inverse.dtype == torch.float32
    fresh = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    assert torch.equal(model.infer(io["mel"], noise=noise(io)), first)
    assert torch.equal(fresh.infer(io["mel"], noise=noise(io)), first)


def test_loading_new_weights_recomputes_inverses():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = WaveGlow(WaveGlowConfig(**SMALL))
        other = WaveGlow(WaveGlowConfig(**SMALL))
    model.load_state_dict(other.state_dict())
    for mine, theirs in zip(model.convinv, other.convinv):
        assert torch.equal(mine.W_inverse, theirs.W_inverse)
        product = mine.W_inverse.squeeze(-1) @ mine.conv.weight.detach().squeeze(-1)
        assert torch.allclose(product, torch.eye(len(product)), atol=1e-6)


@torch.inference_mode()
def test_reduced_precision_keeps_inverse_and_affine_steps_in_fp32(golden, io):
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    reference = model.infer(io["mel"], noise=noise(io))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        audio = model.infer(io["mel"], noise=noise(io))
    assert audio.dtype == torch.float32
    assert max_error(audio, reference) < 0.05  # bf16 WN; fp32 inverse and affine steps
    model.half()
    assert model.convinv[0].W_inverse.dtype == torch.float32


@torch.inference_mode()
def test_bf16_run_stores_the_weights_in_bf16_once(golden, io):
    """precision=bf16 builds WaveGlow with bf16 weights (no per-call casts), fp32 W^-1, and the
    audio within the same bound as autocast over fp32 weights."""
    checkpoint = str(golden / "waveglow" / "ckpt_dle.pt")
    cfg = {"name": "waveglow", "checkpoint": checkpoint}
    reference = build_waveglow(cfg, BuildContext()).infer(io["mel"], noise=noise(io))
    model = build_waveglow(cfg, BuildContext(precision=Precision("bf16")))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.convinv[0].W_inverse.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the pipeline runs it
        audio = model.infer(io["mel"], noise=noise(io))
    assert audio.dtype == torch.float32
    assert 0 < max_error(audio, reference) < 0.05


@torch.inference_mode()
def test_a_private_generator_controls_the_noise_and_sigma0_draws_none(golden, io):
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    state = torch.get_rng_state()
    a = model.infer(io["mel"], generator=torch.Generator().manual_seed(7))
    b = model.infer(io["mel"], generator=torch.Generator().manual_seed(7))
    c = model.infer(io["mel"], generator=torch.Generator().manual_seed(8))
    generator = torch.Generator().manual_seed(7)
    model.infer(io["mel"], generator=generator, sigma=0.0)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG was never touched
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(7).get_state())


@torch.inference_mode()
def test_sigma0_draws_from_the_global_rng_as_the_reference(golden, io):
    """The reference draws its noise (and multiplies it by 0) at sigma 0 too, so a script that
    seeds, runs a sigma-0 pass (the Denoiser does) and then infers needs the same draws."""
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    torch.manual_seed(1234)
    silent = model.infer(io["mel"], sigma=0.0)
    after = torch.get_rng_state()
    torch.manual_seed(1234)
    for shape in model.noise_shapes(2, 20):
        torch.randn(shape)
    assert torch.equal(after, torch.get_rng_state())
    assert max_error(silent, io["audio_sigma0"]) <= TOLERANCE


@torch.inference_mode()
def test_seeded_global_rng_gives_the_reference_audio(model, io):
    torch.manual_seed(1234)  # golden: manual_seed(1234) just before the reference's infer
    assert max_error(model.infer(io["mel"], sigma=0.6), io["audio_sigma0.6_seed1234"]) <= TOLERANCE


@torch.inference_mode()
def test_positional_sigma_is_the_reference_call(golden, io):
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    assert max_error(model.infer(io["mel"], 0), io["audio_sigma0"]) <= TOLERANCE  # an int too
    torch.manual_seed(1234)
    reference_call = model.infer(io["mel"], 0.6)
    torch.manual_seed(1234)
    assert torch.equal(reference_call, model.infer(io["mel"], sigma=0.6))
    with pytest.raises(TypeError, match=r"WaveGlow.infer got sigma twice: 0.6 and sigma=0.5"):
        model.infer(io["mel"], 0.6, sigma=0.5)
    with pytest.raises(TypeError, match=r"takes a torch.Generator \(or a list of them, one per row\), or sigma as a number .*; got str"):
        model.infer(io["mel"], "0.6")


def test_wrong_noise_shapes_are_rejected(golden, io):
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    with pytest.raises(
        ValueError, match=r"noise must be 2 tensors of shapes \[\(2, 6, 640\), \(2, 2, 640\)\]"
    ):
        model.infer(io["mel"], noise=[io["noise_0"]])


@torch.inference_mode()
def test_both_reference_layouts_round_trip_exactly(tmp_path):
    torch.manual_seed(0)
    model = WaveGlow(WaveGlowConfig(**SMALL)).eval()
    for end in (layer.end for layer in model.WN):  # zero-initialised: make every coupling act
        torch.nn.init.normal_(end.weight, std=0.05)
    mel = torch.randn(2, 8, 5)
    noise = [torch.randn(shape) for shape in model.noise_shapes(2, 5)]
    reference = model.infer(mel, noise=noise)
    for layout in ("dle", "fused"):
        path = tmp_path / f"{layout}.pt"
        torch.save(
            {
                "state_dict": {
                    f"module.{k}": v for k, v in model.reference_state_dict(layout).items()
                }
            },
            path,
        )
        loaded = load_waveglow(path)
        assert loaded.config == model.config
        assert max_error(loaded.infer(mel, noise=noise), reference) <= 1e-6


def manifest(golden, name):
    spec = json.loads((golden / "spec" / name).read_text())
    config = {k: v for k, v in spec["config"].items() if k != "WN_config"} | spec["config"][
        "WN_config"
    ]
    return spec, WaveGlowConfig(**config)


@pytest.mark.parametrize(
    "name, layout",
    [
        ("waveglow_dle_512.json", "dle"),
        ("waveglow_dle_256.json", "dle"),
        ("waveglow_nvidia_fused_256.json", "fused"),
    ],
)
def test_full_size_key_manifests(golden, name, layout):
    spec, config = manifest(golden, name)
    with torch.device("meta"):  # full size without allocating it
        tensors = WaveGlow(config).reference_state_dict(layout)
    assert {k: list(v.shape) for k, v in tensors.items()} == spec["state_dict"]
    assert len(tensors) == spec["num_tensors"]
    assert sum(v.numel() for v in tensors.values()) == spec["num_parameters"]


@pytest.mark.parametrize(
    "name", ["waveglow_dle_512.json", "waveglow_dle_256.json", "waveglow_nvidia_fused_256.json"]
)
def test_loader_accepts_full_size_key_sets_and_reads_their_sizes(golden, name):
    spec, config = manifest(golden, name)
    tensors = {
        f"module.{k}": torch.empty(shape, device="meta") for k, shape in spec["state_dict"].items()
    }
    state, _ = unwrap(tensors)
    assert WaveGlow.from_state_dict(state).config == config


def test_shapes_win_over_a_stored_config(golden, tmp_path):
    checkpoint = load_checkpoint(golden / "waveglow" / "ckpt_dle.pt")
    checkpoint["config"]["WN_config"]["n_channels"] = 512
    torch.save(checkpoint, tmp_path / "lying.pt")
    assert load_waveglow(tmp_path / "lying.pt").config.n_channels == 16


def test_other_checkpoints_are_refused_with_a_clear_error(golden, tmp_path):
    with pytest.raises(
        CheckpointError,
        match=r"ckpt_dle.pt is not a WaveGlow checkpoint: no .upsample.weight. \(keys start: embedding.weight",
    ):
        load_waveglow(golden / "tacotron2" / "ckpt_dle.pt")
    with pytest.raises(LegacyCheckpointError, match=r"python -m ttsfw convert .*load_waveglow\(path, trust=True\)"):
        load_waveglow(golden / "waveglow" / "legacy_nvidia_pickle.pt")
    state = load_checkpoint(golden / "waveglow" / "ckpt_nvidia_fused.pt")
    del state["WN.1.end.bias"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match=r"tensors do not fit a WaveGlow: .*WN\.1\.end\.bias"):
        load_waveglow(tmp_path / "broken.pt")
    torch.save({"WN.0.res_layers.0.weight": torch.zeros(1)}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"pre-2018-11 NVIDIA/waveglow layout"):
        load_waveglow(tmp_path / "old.pt")


def test_trust_reads_only_what_a_waveglow_pickle_needs(golden, tmp_path, capsys):
    fused = load_waveglow(golden / "waveglow" / "ckpt_nvidia_fused.pt", trust=True)  # no pickle: as always
    trusted = load_waveglow(golden / "waveglow" / "legacy_nvidia_pickle.pt", sigma=0.0, trust=True)
    assert trusted.sigma == 0.0 and trusted.training is False
    assert all(torch.equal(fused.state_dict()[k], v) for k, v in trusted.state_dict().items())
    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"needs builtins.exec, which a WaveGlow model file does not"):
        load_waveglow(tmp_path / "evil.pt", trust=True)
    assert "the pickle ran code" not in capsys.readouterr().out


def vocoder_cfg(**overrides):
    return {
        "name": "waveglow",
        "checkpoint": None,
        "init_seed": 0,
        "sigma": 0.6,
        **SMALL,
        **overrides,
    }


def test_factory_is_registered_and_loads_a_path(golden):
    assert get_registry().get("vocoder", "waveglow").load() is build_waveglow
    model = build_waveglow(
        vocoder_cfg(checkpoint=str(golden / "waveglow" / "ckpt_dle.pt"), sigma=0.3), BuildContext()
    )
    assert isinstance(model, WaveGlow) and model.sigma == 0.3 and not model.training
    assert model.config == WaveGlowConfig(**TINY)  # the file's shapes, not the config's SMALL sizes


def test_factory_random_weights_are_seeded_and_sized_from_config():
    a = build_waveglow(vocoder_cfg(checkpoint="random"), BuildContext())
    b = build_waveglow(vocoder_cfg(checkpoint="random"), BuildContext())
    c = build_waveglow(vocoder_cfg(checkpoint="random", init_seed=1), BuildContext())
    assert a.config == WaveGlowConfig(**SMALL)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.upsample.weight, c.upsample.weight)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            dict(),
            r"vocoder.checkpoint is not set: set vocoder.checkpoint=PATH .* or vocoder.checkpoint=random",
        ),
        (dict(checkpoint="random", sigma=-1), r"vocoder.sigma must be >= 0"),
        (dict(checkpoint="random", n_chanels=8), r"unknown waveglow option\(s\) n_chanels"),
        (
            dict(checkpoint="random", n_group=7),
            r"n_group \(7\) and n_early_size \(2\) must be even",
        ),
    ],
)
def test_factory_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_waveglow(vocoder_cfg(**overrides), BuildContext())
