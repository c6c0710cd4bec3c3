"""HiFi-GAN plugin: golden parity with jik876/hifi-gan, checkpoint conventions, configs, errors."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from ttsfw import plugins
from ttsfw.errors import CheckpointError, ConfigError, LegacyCheckpointError, TTSError

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "ttsfw-hifigan" / "src"
if str(PLUGIN_SRC) not in sys.path:  # the plugin's source, whether pip-installed or not
    sys.path.insert(0, str(PLUGIN_SRC))

from ttsfw_hifigan import plugin as hifigan_plugin  # noqa: E402
from ttsfw_hifigan.factory import build_hifigan  # noqa: E402
from ttsfw_hifigan.checkpoint import ARCH_FIELDS, load_weights  # noqa: E402
from ttsfw_hifigan.generator import Generator, ResBlock1, ResBlock2  # noqa: E402
from ttsfw_hifigan import load_hifigan  # noqa: E402

CONF = PLUGIN_SRC / "ttsfw_hifigan" / "conf" / "vocoder"
TINY = {"upsample_initial_channel": 32}  # V1 at 1/16 width: fast random-weight tests


def vocoder_cfg(**changes):
    """The `vocoder:` node of hifigan_v1.yaml (without its defaults list), with `changes`."""
    cfg = OmegaConf.load(CONF / "hifigan_v1.yaml")
    del cfg["defaults"]
    return OmegaConf.merge(cfg, changes)


def build(**changes) -> Generator:
    return build_hifigan(vocoder_cfg(**changes), context=None).eval()


def copy_golden(golden: Path, case: str, dest: Path) -> Path:
    """A writable copy of a golden generator folder (generator + config.json); the file's path."""
    shutil.copytree(golden / "hifigan" / case, dest, dirs_exist_ok=True)
    return dest / "generator"


@pytest.fixture
def hifigan():
    """The plugin registered in-process, as its entry point would register it."""
    plugins.get_plugin_manager().register(hifigan_plugin, name="hifigan")
    return hifigan_plugin


# -- parity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case, block", [("resblock1", ResBlock1), ("resblock2", ResBlock2)])
def test_golden_audio_matches_the_reference(golden, case, block):
    """jik876 file + config.json beside it (which overrides the V1 yaml architecture)."""
    io = torch.load(golden / "hifigan" / case / "io.pt", map_location="cpu", weights_only=True)
    model = build(checkpoint=str(golden / "hifigan" / case / "generator"))
    assert isinstance(model.resblocks[0], block)
    assert (model.sample_rate, model.hop_length, model.n_mel_channels) == (22050, 256, 80)
    with torch.inference_mode():
        audio = model.infer(io["mel"])
    expected = io["audio"].squeeze(1)
    assert audio.shape == expected.shape == (2, 12 * 256)
    assert (audio - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize("case", ["resblock1", "resblock2"])
def test_on_a_cpu_the_generator_runs_channels_last_with_the_plain_layouts_numbers(golden, case, monkeypatch):
    """The CPU path (`channels_last.py`) against the same modules in torch's (B, C, T) layout."""
    io = torch.load(golden / "hifigan" / case / "io.pt", map_location="cpu", weights_only=True)
    model = build(checkpoint=str(golden / "hifigan" / case / "generator"))
    layouts = []
    model.resblocks[0].register_forward_hook(
        lambda module, args, out: layouts.append(out.is_contiguous(memory_format=torch.channels_last))
    )
    with torch.inference_mode():
        fast = model.infer(io["mel"])
        monkeypatch.setattr("ttsfw_hifigan.generator.wants_channels_last", lambda x: False)
        plain = model.infer(io["mel"])
    assert layouts == [True, False] and fast.shape == plain.shape == (2, 12 * 256)
    assert (fast - plain).abs().max().item() <= 1e-5


def test_weight_norm_is_folded_into_plain_weights(golden):
    model = build(checkpoint=str(golden / "hifigan" / "resblock2" / "generator"))
    keys = list(model.state_dict())
    assert not any("weight_g" in key or "parametrizations" in key for key in keys)
    assert "conv_pre.weight" in keys and "resblocks.8.convs.1.weight" in keys


def _audio(model: Generator, golden: Path, case: str) -> torch.Tensor:
    io = torch.load(golden / "hifigan" / case / "io.pt", map_location="cpu", weights_only=True)
    with torch.inference_mode():
        return model.infer(io["mel"])


def test_new_style_weight_norm_keys_load_the_same(golden, tmp_path):
    path = copy_golden(golden, "resblock1", tmp_path)
    state = torch.load(path, map_location="cpu", weights_only=True)["generator"]
    renamed = {
        k.replace("weight_g", "parametrizations.weight.original0").replace(
            "weight_v", "parametrizations.weight.original1"
        ): v
        for k, v in state.items()
    }
    torch.save({"generator": renamed}, path)
    reference = _audio(build(checkpoint=str(golden / "hifigan" / "resblock1" / "generator")), golden, "resblock1")
    assert torch.equal(_audio(build(checkpoint=str(path)), golden, "resblock1"), reference)


def test_folded_checkpoint_loads_the_same(golden, tmp_path):
    model = build(checkpoint=str(golden / "hifigan" / "resblock2" / "generator"))
    path = copy_golden(golden, "resblock2", tmp_path)
    torch.save({"generator": model.state_dict()}, path)
    assert torch.equal(_audio(build(checkpoint=str(path)), golden, "resblock2"), _audio(model, golden, "resblock2"))


def test_module_prefixed_bare_state_dict_loads(golden, tmp_path):
    path = copy_golden(golden, "resblock2", tmp_path)
    state = torch.load(path, map_location="cpu", weights_only=True)["generator"]
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    reference = build(checkpoint=str(golden / "hifigan" / "resblock2" / "generator"))
    assert torch.equal(_audio(build(checkpoint=str(path)), golden, "resblock2"), _audio(reference, golden, "resblock2"))


def test_integer_resblock_in_config_json_still_means_resblock1(golden, tmp_path):
    path = copy_golden(golden, "resblock1", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "resblock": 1}))
    assert isinstance(build(checkpoint=str(path)).resblocks[0], ResBlock1)


def test_sample_rate_comes_from_config_json(golden, tmp_path):
    path = copy_golden(golden, "resblock2", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "sampling_rate": 16000}))
    assert build(checkpoint=str(path)).sample_rate == 16000


# -- the Python API: load_hifigan, remove_weight_norm --------------------------------------


def golden_audio(golden: Path, case: str) -> torch.Tensor:
    return torch.load(golden / "hifigan" / case / "io.pt", map_location="cpu", weights_only=True)["audio"]


@pytest.mark.parametrize("case", ["resblock1", "resblock2"])
def test_load_hifigan_finds_config_json_beside_the_file(golden, case):
    model = load_hifigan(golden / "hifigan" / case / "generator")
    assert not model.training
    model.remove_weight_norm()  # jik876's inference.py does; the weights are folded already
    with torch.inference_mode():
        audio = model(torch.load(golden / "hifigan" / case / "io.pt", weights_only=True)["mel"])
    assert (audio - golden_audio(golden, case)).abs().max().item() <= 1e-4  # (B, 1, N) as jik876's


def test_load_hifigan_takes_the_config_as_a_path_or_jik876s_dict(golden, tmp_path):
    shutil.copy(golden / "hifigan" / "resblock2" / "generator", tmp_path / "g_02500000")
    with pytest.raises(CheckpointError, match=r"no config.json beside .*g_02500000: pass jik876's config"):
        load_hifigan(tmp_path / "g_02500000")
    config_json = golden / "hifigan" / "resblock2" / "config.json"
    h = json.loads(config_json.read_text())  # what jik876's scripts wrap in an AttrDict
    reference = _audio(load_hifigan(tmp_path / "g_02500000", config_json), golden, "resblock2")
    assert torch.equal(_audio(load_hifigan(str(tmp_path / "g_02500000"), h), golden, "resblock2"), reference)
    # an explicit config wins over the one beside the file
    beside = copy_golden(golden, "resblock2", tmp_path / "beside")
    assert load_hifigan(beside, {**h, "sampling_rate": 16000}).sample_rate == 16000
    with pytest.raises(CheckpointError, match=r"the config lacks the HiFi-GAN field\(s\) resblock"):
        load_hifigan(beside, {k: v for k, v in h.items() if k != "resblock"})


def test_num_mels_of_the_config_sizes_the_generator(golden, tmp_path):
    h = {**json.loads((golden / "hifigan" / "resblock2" / "config.json").read_text()), "num_mels": 100}
    source = Generator(**{key: h[key] for key in ARCH_FIELDS}, n_mel_channels=100)
    torch.save({"generator": source.state_dict()}, tmp_path / "g_00000001")
    assert load_hifigan(tmp_path / "g_00000001", h).n_mel_channels == 100


def test_load_hifigan_refuses_a_legacy_pickle_with_its_error_type(golden):
    with pytest.raises(LegacyCheckpointError, match="holds pickled Python objects"):
        load_hifigan(golden / "waveglow" / "legacy_nvidia_pickle.pt")  # before any config is sought


# -- the reference's full-size layouts -------------------------------------------------------


@pytest.mark.parametrize("version, folded_params", [("v1", 13_926_017), ("v2", 925_985), ("v3", 1_462_273)])
def test_reference_checkpoint_layout_loads_strictly(golden, version, folded_params):
    """A state dict with every key and shape of jik876's V1/V2/V3 files loads (strict) and folds."""
    spec = json.loads((golden / "spec" / f"hifigan_{version}.json").read_text())
    state = {key: torch.rand(shape) + 0.1 for key, shape in spec["state_dict"].items()}
    assert sum(t.numel() for t in state.values()) == spec["num_parameters"]
    model = Generator(**spec["config"])
    load_weights(model, state, f"hifigan_{version}")
    assert sum(p.numel() for p in model.parameters()) == folded_params
    assert model.hop_length == 256


# -- build paths and errors ------------------------------------------------------------------


def test_random_weights_are_seeded_and_sized():
    a, b, c = build(checkpoint="random", **TINY), build(checkpoint="random", **TINY), build(
        checkpoint="random", init_seed=7, **TINY
    )
    assert torch.equal(a.conv_post.weight, b.conv_post.weight)
    assert not torch.equal(a.ups[0].weight, c.ups[0].weight)
    with torch.inference_mode():
        audio = a.infer(torch.randn(3, 80, 5))
    assert audio.shape == (3, 5 * 256) and audio.abs().max() <= 1


def test_random_weights_do_not_touch_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    build(checkpoint="random", **TINY)
    assert torch.equal(torch.rand(1), expected)


def test_unset_checkpoint_says_which_key_to_set():
    with pytest.raises(ConfigError, match=r"set vocoder\.checkpoint=PATH .* or vocoder\.checkpoint=random"):
        build()


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        build(checkpoint=str(tmp_path / "g_02500000"))


def test_architecture_mismatch_points_at_config_json(golden, tmp_path):
    shutil.copy(golden / "hifigan" / "resblock1" / "generator", tmp_path / "generator")  # no config.json
    with pytest.raises(CheckpointError, match=r"does not fit this HiFi-GAN architecture .*config\.json"):
        build(checkpoint=str(tmp_path / "generator"))


def test_discriminator_file_is_refused_with_a_hint(tmp_path):
    torch.save({"mpd": {"w": torch.zeros(1)}, "msd": {"w": torch.zeros(1)}, "steps": 5}, tmp_path / "do_00000005")
    with pytest.raises(CheckpointError, match=r"discriminators .* use the generator file \(g_XXXXXXXX\)"):
        build(checkpoint=str(tmp_path / "do_00000005"))


def test_config_json_with_inconsistent_hop_is_refused(golden, tmp_path):
    path = copy_golden(golden, "resblock1", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "hop_size": 300}))
    with pytest.raises(CheckpointError, match=r"hop_size 300 differs from prod\(upsample_rates\) = 256"):
        build(checkpoint=str(path))


def test_config_json_without_architecture_is_refused(golden, tmp_path):
    path = copy_golden(golden, "resblock1", tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"sampling_rate": 22050}))
    with pytest.raises(CheckpointError, match="lacks the HiFi-GAN field"):
        build(checkpoint=str(path))


def test_unknown_resblock_type():
    with pytest.raises(ConfigError, match=r"vocoder\.resblock must be '1' or '2', not '3'"):
        build(checkpoint="random", resblock=3, **TINY)


def test_mel_in_the_wrong_layout_is_a_clear_error():
    model = build(checkpoint="random", **TINY)
    with pytest.raises(TTSError, match=r"expects a mel of shape \(batch, 80, frames\), got \(1, 20, 80\)"):
        model.infer(torch.zeros(1, 20, 80))


# -- Hydra configs, through ttsfw's own composition ------------------------------------------


@pytest.mark.parametrize(
    "option, spec", [("hifigan", "v1"), ("hifigan_v1", "v1"), ("hifigan_v2", "v2"), ("hifigan_v3", "v3"), ("hifigan_universal", "v1")]
)
def test_variant_configs_are_the_reference_configs(hifigan, golden, option, spec):
    from ttsfw.config import compose_config

    cfg, choices = compose_config([f"vocoder={option}"])
    expected = json.loads((golden / "spec" / f"hifigan_{spec}.json").read_text())["config"]
    assert {key: OmegaConf.to_container(cfg.vocoder)[key] for key in ARCH_FIELDS} == expected
    assert cfg.vocoder.name == "hifigan" and choices["vocoder"] == option
    assert math.prod(cfg.vocoder.upsample_rates) == 256


def test_hifigan_selects_no_denoiser_unless_asked(hifigan):
    from ttsfw.config import compose_config

    cfg, _ = compose_config(["vocoder=hifigan_v3"])
    assert cfg.denoiser.name == "none"
    explicit, _ = compose_config(["vocoder=hifigan", "denoiser=waveglow_bias"])
    assert explicit.denoiser.name == "waveglow_bias"


def test_pipeline_runs_hifigan_and_checks_sample_rate(hifigan, toy, golden, tmp_path):
    from ttsfw import Pipeline

    path = copy_golden(golden, "resblock2", tmp_path)
    overrides = ["frontend=toy", "acoustic=toy", "vocoder=hifigan", f"vocoder.checkpoint={path}"]
    result = Pipeline.from_overrides(overrides).synthesize(["Hi", "Hello"])
    assert result.sample_rate == 22050
    frames = [len(text) * 2 for text in ("Hi", "Hello")]  # toy.yaml: 2 frames per symbol
    assert [len(audio) for audio in result.audio] == [n * 256 for n in frames]

    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "sampling_rate": 16000}))
    with pytest.raises(ConfigError, match="disagree on sample_rate: 22050 vs 16000"):
        Pipeline.from_overrides(overrides)
