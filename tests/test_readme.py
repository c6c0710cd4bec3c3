"""Every command block of the README runs as written on a fresh, offline machine (so the README
cannot rot): each ``sh`` command in a temp dir with a small book.txt, each ``python`` block as a
script, in a venv with the HiFi-GAN plugin pip-installed (as the README's performance section
does). A command marked ``# needs: ...`` must fail with one ``ttsfw: error:`` line that says
what is missing; ``# needs: network`` is never run (no test touches the network)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from ttsfw.precision import cpu_has_native
from ttsfw.testing import PluginVenv

README = REPO / "README.md"
#: set-up commands: .ci/run runs the two README commands in a fresh venv; the fixture installs plugins
SET_UP = ("python -c \"import torch\"", "pip install")
#: appended to benchmark sweeps so they finish in seconds (Hydra: the last override wins)
SMALL_BENCH = ["acoustic.max_decoder_steps=8", "mode.warmup=0", "mode.num_iters=1"]


def blocks(language: str, page: Path = README) -> list[str]:
    """The bodies of the fenced blocks of `language` in `page` (a markdown file)."""
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.M | re.S)


def commands(page: Path = README) -> list[str]:
    """Every shell command (continuation lines joined) of the ``sh`` blocks of `page`."""
    found = []
    for block in blocks("sh", page):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                found.append(re.sub(r" {2,}", " ", command.strip()))
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A temp dir with book.txt, and an environment whose `python` has ttsfw-hifigan installed."""
    root = tmp_path_factory.mktemp("readme")
    env = PluginVenv(root / "venv")
    env.pip_install(REPO / "plugins" / "ttsfw-hifigan")
    work = root / "work"
    work.mkdir()
    (work / "book.txt").write_text("A first line.\n\nThe third line, after a blank one.\n")
    bins = f"{env.python.parent}{os.pathsep}{Path(sys.executable).parent}"
    environ = {k: v for k, v in os.environ.items() if k != "TTSFW_PLUGINS"}
    environ.update(PATH=f"{bins}{os.pathsep}/usr/bin:/bin", TTSFW_PLUGINS="hifigan",
                   TTSFW_CACHE=str(root / "cache"), OMP_NUM_THREADS="1")
    return work, environ


def test_the_readme_has_the_examples_this_test_runs():
    found = commands()
    assert any(c.startswith('python -c "import torch"') and "pytest" in c for c in found)
    assert sum("needs: " in c for c in found) >= 3 and len(found) >= 12
    assert any("from ttsfw import Pipeline" in block for block in blocks("python"))


def audio_files(work: Path) -> set[tuple[Path, int]]:
    """Audio files with their modification times (two runs may share a run dir's second)."""
    return {(p, p.stat().st_mtime_ns) for p in [*work.rglob("*.wav"), *work.rglob("*.flac")]}


@pytest.mark.parametrize("command", [c for c in commands() if not c.startswith(SET_UP)])
def test_every_readme_command_runs_offline_or_says_what_it_needs(workdir, command):
    work, environ = workdir
    needs = re.search(r"# needs: (\S+)", command)
    if needs and needs.group(1) == "network":
        pytest.skip("needs the network: never run in tests")
    line = command.split("  #")[0].split(" # ")[0]
    if "mode=bench" in line:
        line += " " + " ".join(SMALL_BENCH)
    if "precision=fp32,bf16" in line and not cpu_has_native("bf16"):
        # an AVX2-only CPU emulates bf16 (SlowPrecisionWarning): WaveGlow's denoiser alone
        # then takes ~4 minutes to build per bf16 job; the fp32 half of the sweep still runs
        line = line.replace("precision=fp32,bf16", "precision=fp32")
    before = audio_files(work)
    result = subprocess.run(["bash", "-c", line], cwd=work, env=environ, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    if needs:
        assert result.returncode == 1, result.stdout + result.stderr
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("ttsfw: error: ") and re.search("not found|no such file|not downloaded|download", error), error
        return
    assert result.returncode == 0, result.stdout + result.stderr
    speaks = re.search(r"\b(text=|say |input=)", line) and "mode=bench" not in line
    if speaks and "output=-" in line:  # raw PCM on stdout, redirected to a file
        pcm = work / re.search(r"> (\S+)", line).group(1)
        assert pcm.stat().st_size > 0 and pcm.stat().st_size % 4 == 0, "no float32 samples on stdout"
    elif speaks:
        assert audio_files(work) - before, "the command made no audio file"
    if "checkpoint=random" in line:
        assert re.search(r"^ttsfw: warning: \w+ has random weights \(checkpoint=random\): its output is "
                         r"noise", result.stderr, re.M), result.stderr


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_readme_python_block_runs(workdir, index):
    work, environ = workdir
    script = work / f"readme_block_{index}.py"
    script.write_text(blocks("python")[index])
    result = subprocess.run([environ["PATH"].split(os.pathsep)[0] + "/python", str(script)], cwd=work,
                            env=environ, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
