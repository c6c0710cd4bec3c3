"""The hook and stage reference (docs/hooks.md) names every hook and every stage method."""

from __future__ import annotations

import inspect
import re

from conftest import REPO
from ttsfw import hookspecs, stages

REFERENCE = (REPO / "docs" / "hooks.md").read_text()
HEADINGS = set(re.findall(r"^### `([\w.]+)\(", REFERENCE, re.M))


def test_every_hook_is_in_the_reference():
    hooks = {name for name in dir(hookspecs) if name.startswith("ttsfw_")}
    assert hooks - HEADINGS == set(), "document these hooks in docs/hooks.md"
    assert len(hooks) == 15


def test_every_abstract_stage_method_is_in_the_reference():
    methods = {
        f"{cls.__name__}.{name}"
        for cls in (stages.Frontend, stages.AcousticModel, stages.Vocoder, stages.Denoiser)
        for name in cls.__abstractmethods__
    }
    assert methods == {"Frontend.encode", "AcousticModel.infer", "Vocoder.infer", "Denoiser.forward"}
    assert methods - HEADINGS == set(), "document these stage methods in docs/hooks.md"


def test_the_reference_shows_each_hooks_arguments():
    for name in (n for n in dir(hookspecs) if n.startswith("ttsfw_")):
        arguments = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({arguments})`" in REFERENCE, name
