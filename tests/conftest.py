"""Shared fixtures: golden fixtures dir, and isolation from stray installed plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One thread: the golden fixtures were made single-threaded (bitwise parity), and on the 2-core
# CI machine it is faster than oversubscribed OpenMP.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(os.environ.get("TTSFW_GOLDEN", REPO.parent / "shared" / "golden"))


@pytest.fixture(autouse=True)
def _no_stray_plugins(monkeypatch):
    """Load only built-in plugins unless a test opts in (TTSFW_PLUGINS="")."""
    from ttsfw import plugins

    monkeypatch.setenv("TTSFW_PLUGINS", "")
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="session")
def golden() -> Path:
    """The golden parity fixtures (../shared/golden beside the checkout)."""
    if not GOLDEN.is_dir():
        pytest.fail(f"golden fixtures not found at {GOLDEN} (set TTSFW_GOLDEN)")
    return GOLDEN


@pytest.fixture
def toy(monkeypatch):
    """The toy test plugin registered in-process (its config groups included)."""
    from ttsfw import plugins

    monkeypatch.syspath_prepend(str(REPO / "tests" / "toy_plugin"))
    import ttsfw_toy

    plugins.get_plugin_manager().register(ttsfw_toy, name="toy")
    return ttsfw_toy


TOY = ["frontend=toy", "acoustic=toy", "vocoder=toy", "denoiser=none"]

#: a Tacotron2 of a few thousand random weights (tests add how it should decode)


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory):
    """A venv with the toy plugin and a plugin with a misspelled hook pip-installed."""
    from plugin_env import TOY_SOURCE, write_typo_plugin
    from ttsfw.testing import PluginVenv

    root = tmp_path_factory.mktemp("plugin-venv")
    env = PluginVenv(root / "venv")
    env.pip_install(TOY_SOURCE)
    env.pip_install(write_typo_plugin(root / "typo-src"))
    return env
