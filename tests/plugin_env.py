"""The test plugins of this suite: the toy plugin's source and a plugin with a misspelled hook
(the venv helpers are public, in ``ttsfw.testing``)."""

from __future__ import annotations

from pathlib import Path

TOY_SOURCE = Path(__file__).parent / "toy_plugin"

TYPO_PLUGIN = '''
from ttsfw.hookspecs import hookimpl

@hookimpl
def ttsfw_register_vocoder(register):  # misspelled on purpose: the spec is ..._vocoders
    pass
'''


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
