"""Helpers for testing ttsfw plugins (and ttsfw itself), importable by any test suite:

    from ttsfw.testing import TINY_TACOTRON2, PluginVenv, pipeline_with

    def test_my_vocoder_speaks(tmp_path):
        tts = pipeline_with(["my_plugin"], [*TINY_TACOTRON2, "vocoder=myvocoder"])
        assert tts.synthesize(["Hello."]).audio[0].size > 0

    def test_installed_as_users_install_it(tmp_path):
        env = PluginVenv(tmp_path / "venv")
        env.pip_install(Path("path/to/my-plugin"))      # a real pip install
        assert env.ttsfw("plugins", plugins="my_plugin").returncode == 0

`PluginVenv` layers a throwaway venv over the running interpreter's environment, so ttsfw,
torch and pip come from whatever venv, conda env or system Python runs the tests.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sysconfig
import venv
from pathlib import Path
from typing import Iterable

#: overrides for a tiny random-weight Tacotron2 (fast enough for unit tests; noise, not speech)
TINY_TACOTRON2 = [
    "acoustic=tacotron2",
    "acoustic.checkpoint=random",
    "acoustic.symbols_embedding_dim=8",
    "acoustic.encoder_embedding_dim=8",
    "acoustic.encoder_kernel_size=3",
    "acoustic.encoder_n_convolutions=1",
    "acoustic.attention_rnn_dim=16",
    "acoustic.attention_dim=8",
    "acoustic.attention_location_n_filters=2",
    "acoustic.attention_location_kernel_size=3",
    "acoustic.decoder_rnn_dim=16",
    "acoustic.prenet_dim=8",
    "acoustic.postnet_embedding_dim=8",
    "acoustic.postnet_kernel_size=3",
    "acoustic.postnet_n_convolutions=1",
]


def pipeline_with(plugins: Iterable[str], overrides: Iterable[str] = ()):
    """A Pipeline composed from `overrides` as the CLI would, with only the named installed
    plugins loaded (entry-point names; the built-ins always load)."""
    from . import plugins as manager
    from .pipeline import Pipeline

    previous = os.environ.get(manager.ENV_VAR)
    os.environ[manager.ENV_VAR] = ",".join(plugins)
    try:
        return Pipeline.from_overrides(list(overrides))
    finally:
        if previous is None:
            del os.environ[manager.ENV_VAR]
        else:
            os.environ[manager.ENV_VAR] = previous


def overlay_venv(root: Path) -> Path:
    """Create a venv at `root` that also sees this interpreter's packages; return its python.

    ``system_site_packages=True`` would expose the *base* interpreter's packages, which inside
    a venv are not the ones the tests run with. Instead a ``.pth`` file in the new venv adds
    this interpreter's site directories (after the venv's own, so what is installed into the
    venv wins; nested ``.pth`` files such as editable installs are processed).
    """
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True).stdout.strip()
    parents = dict.fromkeys([*site.getsitepackages(), site.getusersitepackages(),
                             sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    lines = [f"import site; site.addsitedir({str(d)!r})" for d in parents if Path(d).is_dir()]
    (Path(own) / "_parent_env.pth").write_text("\n".join(lines) + "\n")
    return python


def run_checked(command: list, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run that, on failure, raises with the command's own output in the message."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited {done.returncode}:\n"
                           f"{done.stdout}\n{done.stderr}")
    return done


class PluginVenv:
    """A venv whose python runs ``-m ttsfw`` with extra plugin distributions installed."""

    def __init__(self, root: Path):
        self.root = root
        self.python = overlay_venv(root)

    def pip_install(self, source: Path) -> None:
        """Build `source` in a scratch copy and install it the way a user would."""
        build = self.root.parent / f"build-{source.name}"
        shutil.copytree(source, build, dirs_exist_ok=True)
        run_checked([self.python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                     "--disable-pip-version-check", str(build)])

    def ttsfw(self, *args: str, plugins: str | None = None, cwd: Path | None = None,
              stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "TTSFW_PLUGINS"}
        if plugins is not None:
            env["TTSFW_PLUGINS"] = plugins
        return subprocess.run(
            [self.python, "-m", "ttsfw", *args], cwd=cwd, env=env, text=True,
            capture_output=True, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            timeout=300,
        )
