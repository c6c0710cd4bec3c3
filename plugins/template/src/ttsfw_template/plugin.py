"""The entry point: ttsfw's hooks. It names the factory instead of importing it, so loading
plugins (``--help``, ``plugins``, every error) never imports torch or the model."""

from __future__ import annotations

from ttsfw import hookimpl

from .settings import TemplateSettings


@hookimpl
def ttsfw_register_vocoders(register):
    register("template", "ttsfw_template.vocoder:build_template_vocoder", schema=TemplateSettings)


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw_template.conf"]
