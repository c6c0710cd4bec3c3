"""Real plugin installs for tests: a temporary venv layered over the running interpreter's
environment (so ttsfw, torch and pip come from whatever venv, conda env or system python runs
the tests) with test plugin distributions pip-installed into it."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sysconfig
import venv
from pathlib import Path

TOY_SOURCE = Path(__file__).parent / "toy_plugin"

TYPO_PLUGIN = '''
from ttsfw.hookspecs import hookimpl

@hookimpl
def ttsfw_register_vocoder(register):  # misspelled on purpose: the spec is ..._vocoders
    pass
'''


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
