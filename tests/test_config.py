"""Hydra composition: every group option composes; the conf tree is found from a source
checkout and from a wheel installed into a fresh venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from ttsfw.testing import overlay_venv, run_checked
from ttsfw.config import CONF_DIR, COMPONENT_GROUPS, GROUPS, compose_config, group_options


def test_conf_dir_is_the_source_checkout_tree():
    assert CONF_DIR == REPO / "conf"


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_of_every_group_composes(group):
    for option in group_options(group):
        cfg, choices = compose_config([f"{group}={option}"])
        assert choices[group] == option
        if group in COMPONENT_GROUPS:
            assert cfg[group].name, f"{group}/{option}.yaml must name its component"


def test_component_groups_have_options():
    for group in COMPONENT_GROUPS:
        assert group_options(group), group


def test_wheel_installed_in_a_fresh_venv_finds_its_config(tmp_path):
    wheels = tmp_path / "wheels"
    run_checked([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                 "-w", str(wheels), str(REPO)])
    (wheel,) = wheels.glob("ttsfw-*.whl")
    env_dir = tmp_path / "venv"
    python = overlay_venv(env_dir)
    clean_env = {"TTSFW_PLUGINS": "", "PATH": "/usr/bin:/bin"}  # no PYTHONPATH: the venv's own ttsfw
    run_checked([python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", str(wheel)])
    where = subprocess.run(
        [python, "-c", "import ttsfw.config as c; print(c.CONF_DIR)"],
        cwd=tmp_path, check=True, capture_output=True, text=True, env=clean_env,
    ).stdout.strip()
    assert Path(where).is_relative_to(env_dir), where  # the wheel's copy, not the checkout
    assert (Path(where) / "config.yaml").is_file()
    job = subprocess.run(
        [python, "-m", "ttsfw", "--cfg", "job", "device=cpu"],
        cwd=tmp_path, capture_output=True, text=True, env=clean_env,
    )
    assert job.returncode == 0, job.stderr
    assert "device:\n  name: cpu" in job.stdout
    # the components' config files are package data of ttsfw/components/*, found in the wheel
    job = subprocess.run(
        [python, "-m", "ttsfw", "--cfg", "job", "vocoder=griffinlim"],
        cwd=tmp_path, capture_output=True, text=True, env=clean_env,
    )
    assert job.returncode == 0, job.stderr
    assert "vocoder:\n  name: griffinlim" in job.stdout and "acoustic:\n  name: tacotron2" in job.stdout
    circled_one = "from ttsfw.components.english.transliterate import dle; print(dle(chr(0x2460)))"
    dle = subprocess.run(  # the wheel ships the dle transliterator's data file
        [python, "-c", circled_one],
        cwd=tmp_path, check=True, capture_output=True, text=True, env=clean_env,
    )
    assert dle.stdout == "1\n"
