"""Real plugin installs for tests: a temporary venv (system site-packages visible, so ttsfw
and torch come from the test environment) with test plugin distributions pip-installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

TOY_SOURCE = Path(__file__).parent / "toy_plugin"

TYPO_PLUGIN = '''
from ttsfw.hookspecs import hookimpl

@hookimpl
def ttsfw_register_vocoder(register):  # misspelled on purpose: the spec is ..._vocoders
    pass
'''


class PluginVenv:
    """A venv whose python runs ``-m ttsfw`` with extra plugin distributions installed."""

    def __init__(self, root: Path):
        self.root = root
        venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root)
        self.python = root / "bin" / "python"

    def pip_install(self, source: Path) -> None:
        """Build `source` in a scratch copy and install it the way a user would."""
        build = self.root.parent / f"build-{source.name}"
        shutil.copytree(source, build, dirs_exist_ok=True)
        subprocess.run(
            [self.python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", str(build)],
            check=True, capture_output=True, text=True,
        )

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


def write_typo_plugin(root: Path) -> Path:
    """A distribution whose plugin misspells a hook name."""
    (root / "ttsfw_typo").mkdir(parents=True)
    (root / "ttsfw_typo" / "__init__.py").write_text(TYPO_PLUGIN)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "ttsfw-typo"\nversion = "1.0"\n'
        '[project.entry-points.ttsfw]\ntypo = "ttsfw_typo"\n'
    )
    return root
