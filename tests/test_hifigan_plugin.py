"""The ttsfw-hifigan distribution installed as a user would (pip install plugins/ttsfw-hifigan)
into a venv, then driven through ``python -m ttsfw``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile

from plugin_env import TOY_SOURCE
from ttsfw.testing import PluginVenv

PLUGIN_SOURCE = Path(__file__).resolve().parents[1] / "plugins" / "ttsfw-hifigan"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> PluginVenv:
    """A venv with ttsfw-hifigan (and the toy frontend/acoustic model) pip-installed."""
    env = PluginVenv(tmp_path_factory.mktemp("hifigan") / "venv")
    env.pip_install(PLUGIN_SOURCE)
    env.pip_install(TOY_SOURCE)
    return env


def test_installed_copy_is_used_not_the_source(venv):
    result = subprocess.run(
        [venv.python, "-c", "import ttsfw_hifigan; print(ttsfw_hifigan.__file__)"],
        capture_output=True, text=True, check=True, cwd=venv.root,
    )
    assert Path(result.stdout.strip()).is_relative_to(venv.root)


def test_plugins_command_lists_hifigan(venv):
    result = venv.ttsfw("plugins", plugins="hifigan")
    assert result.returncode == 0, result.stderr
    entry = result.stdout.split("hifigan  (ttsfw-hifigan 0.1.0)\n", 1)[1].splitlines()
    assert entry[:2] == [
        "  hooks: ttsfw_config_search_path, ttsfw_model_store, ttsfw_onnx_module, ttsfw_register_vocoders",
        "  vocoder: hifigan",
    ]


def test_synthesis_end_to_end(venv, golden, tmp_path):
    """Toy frontend and acoustic model (5 symbols x 2 frames), the tiny golden HiFi-GAN."""
    shutil.copytree(golden / "hifigan" / "resblock1", tmp_path / "model")
    run_dir = tmp_path / "run"
    result = venv.ttsfw(
        "frontend=toy", "acoustic=toy", "vocoder=hifigan", f"vocoder.checkpoint={tmp_path / 'model' / 'generator'}",
        "text=Hello", f"hydra.run.dir={run_dir}", plugins="toy,hifigan", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    audio, sample_rate = soundfile.read(run_dir / "0001.wav")
    assert sample_rate == 22050 and len(audio) == 5 * 2 * 256
    assert audio.std() > 0.01  # not silence
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    config = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "denoiser:\n  name: none" in config  # HiFi-GAN's default: no denoiser


def test_output_dash_keeps_the_plugins_log_off_stdout(venv, golden, tmp_path):
    """The plugin logs where the generator's config came from (INFO, Hydra's console handler):
    with output=- that line goes to stderr, and stdout holds the samples alone."""
    shutil.copytree(golden / "hifigan" / "resblock1", tmp_path / "model")
    command = [
        venv.python, "-m", "ttsfw", "say", "Hello", "frontend=toy", "acoustic=toy", "vocoder=hifigan",
        f"vocoder.checkpoint={tmp_path / 'model' / 'generator'}", "output=-", f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "TTSFW_PLUGINS": "toy,hifigan"}
    result = subprocess.run(command, capture_output=True, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout) == 5 * 2 * 256 * 4  # float32 samples, and nothing else
    assert "HiFi-GAN architecture from" in result.stderr.decode()


def test_without_the_plugin_the_error_says_what_to_install(venv, tmp_path):
    result = venv.ttsfw("frontend=toy", "acoustic=toy", "vocoder=hifigan", plugins="toy", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown vocoder 'hifigan'" in result.stderr
    assert "pip install ttsfw-hifigan" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], ["plugins"], ["--cfg", "job", "vocoder=hifigan_v2"], ["--cfg", "job", "voice=joe_hifigan"], ["vocoder=nope"]],
)
def test_start_up_imports_no_torch_with_the_plugin_loaded(venv, tmp_path, args):
    """Loading every plugin (built-ins + hifigan) must not import torch: the hook modules name
    their factories, which are imported only when a component is built."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, file=sys.stderr))\n"
        "from ttsfw.cli import main\n"
        f"main({args!r})\n"
    )
    result = subprocess.run([venv.python, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "TTSFW_PLUGINS": "hifigan"})
    assert result.stderr.strip().splitlines()[-1] == "torch imported: False", result.stderr
    if args == ["vocoder=nope"]:
        assert "ttsfw: error: unknown vocoder 'nope'" in result.stderr
    elif args[0] == "--cfg":
        assert "name: hifigan" in result.stdout
    if "voice=joe_hifigan" in args:  # the voice's yaml is in the installed package's data
        assert "checkpoint: hifigan_v1_universal" in result.stdout and "checkpoint: ttsfw_joe" in result.stdout
