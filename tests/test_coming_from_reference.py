"""docs/coming-from-reference.md runs as written: every ``python`` block as a script and every
``sh`` command, in a directory where the published file names are the golden tiny checkpoints
of the same formats (DLE/NGC, NVIDIA/tacotron2, NVIDIA/waveglow's pickle, jik876)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from test_readme import blocks, commands

PAGE = REPO / "docs" / "coming-from-reference.md"
PLUGIN_SRC = REPO / "plugins" / "ttsfw-hifigan" / "src"
#: the file names the page uses -> golden files of the same format
FILES = {
    "nvidia_tacotron2pyt_fp32_20190427": "tacotron2/ckpt_dle.pt",
    "tacotron2_statedict.pt": "tacotron2/ckpt_nvidia.pt",
    "nvidia_waveglowpyt_fp32_20190427": "waveglow/ckpt_dle.pt",
    "waveglow_256channels_universal_v5.pt": "waveglow/legacy_nvidia_pickle.pt",
    "LJ_FT_T2_V1/generator_v1": "hifigan/resblock1/generator",
    "LJ_FT_T2_V1/config.json": "hifigan/resblock1/config.json",
}


@pytest.fixture(scope="module")
def workdir(golden, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The directory the page's code runs in, and an environment that finds the HiFi-GAN
    plugin (installed or not) and this interpreter as `python`."""
    work = tmp_path_factory.mktemp("coming-from-reference")
    for name, source in FILES.items():
        (work / name).parent.mkdir(exist_ok=True)
        (work / name).symlink_to(golden / source)
    io = torch.load(golden / "hifigan" / "resblock1" / "io.pt", map_location="cpu", weights_only=True)
    np.save(work / "LJ001-0001.npy", io["mel"][:1].numpy())  # a Tacotron2 mel, (1, 80, T)
    environ = dict(os.environ, OMP_NUM_THREADS="1")
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_SRC), environ.get("PYTHONPATH")]))
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    return work, environ


def test_the_page_maps_each_habit():
    code = "\n".join(blocks("python", PAGE))
    for call in ("load_tacotron2(", "load_waveglow(", "load_hifigan(", "prenet_dropout=False",
                 "waveglow.infer(mel, 0.666)", "LegacyCheckpointError", "trust=True",
                 'mode="normal"', "torch.manual_seed(1234)", "remove_weightnorm(waveglow)",
                 "remove_weight_norm()", "config=h"):
        assert call in code, call
    assert len(blocks("python", PAGE)) == 5 and commands(PAGE)


@pytest.mark.parametrize("index", range(len(blocks("python", PAGE))))
def test_every_python_block_runs(workdir, index):
    work, environ = workdir
    script = work / f"block_{index}.py"
    script.write_text(blocks("python", PAGE)[index])
    result = subprocess.run([sys.executable, str(script)], cwd=work, env=environ,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    if "LegacyCheckpointError as error" in script.read_text():  # the message says how to convert
        assert "python -m ttsfw convert waveglow_256channels_universal_v5.pt OUT.pt --trust" in result.stdout


@pytest.mark.parametrize("command", commands(PAGE))
def test_every_command_runs(workdir, command):
    work, environ = workdir
    result = subprocess.run(["bash", "-c", command], cwd=work, env=environ, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    if " convert " in command:
        assert result.stdout.startswith("wrote waveglow_256.pt: 86 tensors")
