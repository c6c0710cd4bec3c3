"""Plugin system: registration hooks, collisions, entry-point discovery, TTSFW_PLUGINS."""

from __future__ import annotations

import pytest

from ttsfw import plugins
from ttsfw.errors import ConfigError, PluginError
from ttsfw.hookspecs import hookimpl
from ttsfw.registry import BuildContext, Registry


def test_builtins_register_through_the_hooks():
    registry = plugins.get_registry()
    assert registry.names("device") == ["auto", "cpu", "cuda", "mlu"]
    assert registry.get("device", "gpu").name == "cuda"  # alias
    assert registry.get("device", "cpu").plugin == "ttsfw.builtins"


def test_unknown_component_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"unknown device 'tpu'; available: auto, cpu, cuda, mlu"):
        plugins.get_registry().get("device", "tpu")


def test_known_plugin_component_says_what_to_install():
    """The hint comes from a plugin's ttsfw_install_hints (here the built-ins'), not the core."""
    with pytest.raises(ConfigError, match=r"'hifigan' is provided by the plugin package ttsfw-hifigan \(pip install ttsfw-hifigan\)"):
        plugins.get_registry().get("vocoder", "hifigan")
    assert Registry().install_hint("vocoder", "hifigan") == ""


def test_a_plugin_adds_a_command_and_a_mode(tmp_path, capsys):
    from ttsfw.cli import main

    class Extras:
        @hookimpl
        def ttsfw_register_commands(self, register):
            register("hello", lambda argv: print("hello", *argv) or 3)

        @hookimpl
        def ttsfw_register_modes(self, register):
            register("count", lambda cfg, choices, run_dir: (run_dir / "count.txt").write_text(cfg.text))

    plugins.get_plugin_manager().register(Extras(), name="extras")
    with pytest.raises(SystemExit) as stop:
        main(["hello", "a", "b"])
    assert stop.value.code == 3 and capsys.readouterr().out == "hello a b\n"
    main(["mode=synth", "++mode.name=count", "text=Seven, eight.", f"hydra.run.dir={tmp_path}"])
    assert (tmp_path / "count.txt").read_text() == "Seven, eight."
    registry = plugins.get_registry()
    assert registry.names("command") == ["convert", "download", "export", "hello", "plugins", "serve", "serve-bench"]
    assert registry.names("mode") == ["bench", "count", "synth"]


def test_name_collision_names_both_plugins():
    class Dup:
        @hookimpl
        def ttsfw_register_devices(self, register):
            register("cpu", lambda cfg, ctx: None)

    plugins.get_plugin_manager().register(Dup(), name="dup")
    with pytest.raises(PluginError, match="device 'cpu' is registered twice: by plugin 'ttsfw.builtins' and by plugin 'dup'"):
        plugins.get_registry()


def test_factory_receives_config_and_context(toy):
    from omegaconf import OmegaConf

    acoustic = plugins.get_registry().build(
        "acoustic", OmegaConf.create({"name": "toy_acoustic", "frames_per_symbol": 3}), BuildContext()
    )
    assert acoustic.frames_per_symbol == 3


def test_plugin_infos_attribute_components(toy):
    infos = {info.name: info for info in plugins.plugin_infos()}
    assert infos["toy"].components == {"frontend": ["toy"], "acoustic": ["toy"], "vocoder": ["toy"]}
    assert "ttsfw_config_search_path" in infos["toy"].hooks
    assert infos["ttsfw.builtins"].distribution == "ttsfw"
    assert infos["ttsfw.builtins"].components["device"] == ["auto", "cpu", "cuda", "mlu"]


@pytest.mark.parametrize(
    "value, expected", [(None, None), ("", set()), ("a, b", {"a", "b"})]
)
def test_env_var_parsing(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("TTSFW_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("TTSFW_PLUGINS", value)
    assert plugins.allowed_plugins() == expected


def test_entry_point_plugin_is_discovered_with_its_distribution(plugin_venv):
    result = plugin_venv.ttsfw("plugins", plugins="toy")
    assert result.returncode == 0, result.stderr
    assert "toy  (ttsfw-toy 0.3.1)" in result.stdout
    assert "  acoustic: toy" in result.stdout
    assert "ttsfw.builtins  (ttsfw " in result.stdout
    assert "typo" not in result.stdout  # restricted by TTSFW_PLUGINS


def test_env_var_disables_external_plugins(plugin_venv):
    result = plugin_venv.ttsfw("plugins", plugins="")
    assert result.returncode == 0, result.stderr
    assert "ttsfw-toy" not in result.stdout and "ttsfw.builtins" in result.stdout


def test_misspelled_hook_is_a_clear_error_naming_the_plugin(plugin_venv):
    result = plugin_venv.ttsfw("plugins")  # TTSFW_PLUGINS unset: every installed plugin loads
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ttsfw: error: plugin 'typo' implements unknown hook(s) ttsfw_register_vocoder: misspelled? "
        "known hooks: " + ", ".join(sorted(plugins._spec_names()))
    ]


def test_stage_classes_are_abstract_with_no_silent_audio_defaults():
    from ttsfw import AcousticModel, Denoiser, Frontend, Vocoder

    for stage in (Frontend, AcousticModel, Vocoder, Denoiser):
        half_done = type(f"Half{stage.__name__}", (stage,), {})
        with pytest.raises(TypeError, match="abstract"):
            half_done()
    for attribute in ("sample_rate", "hop_length", "n_mel_channels"):
        assert not hasattr(Vocoder, attribute) and not hasattr(AcousticModel, attribute)
