"""Shared fixtures: golden fixtures dir, and isolation from stray installed plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
