"""plugins/template, the plugin to copy, works as a user installs it: pip install into a venv,
listed by `plugins`, speaks through `vocoder=template`, and its own tests pass there."""

from __future__ import annotations

import subprocess

import pytest
import soundfile as sf

from conftest import REPO
from ttsfw.testing import PluginVenv

TEMPLATE = REPO / "plugins" / "template"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> PluginVenv:
    env = PluginVenv(tmp_path_factory.mktemp("template") / "venv")
    env.pip_install(TEMPLATE)
    return env


def test_the_template_is_listed_and_speaks(venv, tmp_path):
    listed = venv.ttsfw("plugins", plugins="template")
    assert "template  (ttsfw-template 0.1.0)" in listed.stdout and "  vocoder: template" in listed.stdout
    run = venv.ttsfw("vocoder=template", "text=Hello, world.", f"hydra.run.dir={tmp_path / 'out'}",
                     plugins="template", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    audio, rate = sf.read(tmp_path / "out" / "0001.wav")
    assert rate == 22050 and 0.3 < len(audio) / rate < 5 and 0 < abs(audio).max() <= 0.1


def test_the_templates_own_tests_pass_when_installed(venv, tmp_path):
    result = subprocess.run(
        [venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TEMPLATE / "tests")],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "TTSFW_PLUGINS": "template"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
