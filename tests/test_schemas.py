"""Typed config: every built-in config node has a Hydra structured-config schema, and a wrong
type or an unknown key is one ConfigError naming the key, from composition and from the API."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from ttsfw import Pipeline
from ttsfw.config import GROUPS, compose_config, group_options
from ttsfw.errors import ConfigError
from ttsfw.plugins import get_registry
from ttsfw.settings import JobSettings, ServeSettings, job_settings

BUILT_IN = ("ttsfw.builtins", "ttsfw.components.")


def built_in_options() -> list[tuple[str, str]]:
    registry = get_registry()
    return [
        (group, option)
        for group in GROUPS if group not in ("voice", "serve")  # serve: not a component, no name
        for option in group_options(group)
        if registry.get(group, compose_config([f"{group}={option}"])[0][group].name).plugin.startswith(BUILT_IN)
    ]


def test_every_built_in_option_is_typed_by_its_registered_schema():
    registry = get_registry()
    options = built_in_options()
    assert {group for group, _ in options} == {
        "frontend", "acoustic", "vocoder", "denoiser", "device", "engine", "mode", "runtime"
    }
    for group, option in options:
        cfg, _ = compose_config([f"{group}={option}"])
        schema = registry.get(group, cfg[group].name).schema
        assert schema is not None, f"{group}={option} has no schema"
        assert OmegaConf.get_type(cfg[group]) is schema, f"{group}/{option}.yaml must name its schema"
    assert OmegaConf.get_type(compose_config([])[0]) is JobSettings
    assert OmegaConf.get_type(compose_config([])[0].serve) is ServeSettings


def test_the_job_settings_are_typed_and_checked():
    cfg, _ = compose_config(["batch_size=3", "pause=1", "split=false"])
    settings = job_settings(cfg)
    assert (settings.batch_size, settings.pause, settings.split) == (3, 1.0, False)
    assert isinstance(settings.pause, float)
    cfg, _ = compose_config(["shard=2", "num_shards=2"])  # each value fits its type; together they do not
    with pytest.raises(ConfigError, match=r"^shard must be in 0\.\.num_shards-1 \(num_shards=2\), got shard=2$"):
        job_settings(cfg)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["batch_size=two"], "batch_size: Value 'two' of type 'str' could not be converted to Integer"),
        (["acoustic.max_decoder_steps=lots"], "acoustic.max_decoder_steps: Value 'lots' of type 'str' could not be converted to Integer"),
        (["vocoder=waveglow", "vocoder.sigma=loud"], "vocoder.sigma: Value 'loud' of type 'str' could not be converted to Float"),
        (["frontend.strict=maybe"], "frontend.strict: Value 'maybe' is not a valid bool"),
        (["acoustic.max_decoder_step=9"], "unknown config key or group 'acoustic.max_decoder_step'; did you mean 'acoustic.max_decoder_steps'?"),
    ],
)
def test_a_wrong_value_or_key_is_one_line_naming_it(overrides, message):
    with pytest.raises(ConfigError) as error:
        compose_config(overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_hand_made_config_is_checked_when_the_pipeline_is_built():
    cfg, _ = compose_config(["acoustic.checkpoint=random", "vocoder=griffinlim"])
    node = OmegaConf.to_container(cfg)  # plain dicts, as an API user might write them
    node["vocoder"]["n_itre"] = 3
    with pytest.raises(ConfigError, match=r"^unknown config key 'vocoder.n_itre'; did you mean 'vocoder.n_iter'\?$"):
        Pipeline(OmegaConf.create(node))
    del node["vocoder"]["n_itre"]
    node["vocoder"]["momentum"] = "fast"
    with pytest.raises(ConfigError, match=r"^vocoder.momentum: Value 'fast' of type 'str' could not be converted to Float$"):
        Pipeline(OmegaConf.create(node))
