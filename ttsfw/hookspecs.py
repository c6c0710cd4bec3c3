"""The ttsfw plugin API: every hook a plugin (built-in or installed) may implement.

Registration hooks receive a ``register(name, factory, aliases=())`` callback. A factory is
called as ``factory(cfg, context)`` with the component's config group node and a
:class:`ttsfw.registry.BuildContext`, and returns the component. Pass it by name,
``"package.module:function"``, and it is imported only when the component is built: a hook
module that imports no torch keeps ``--help``, ``plugins`` and every error fast.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("ttsfw")
hookimpl = pluggy.HookimplMarker("ttsfw")


@hookspec
def ttsfw_register_frontends(register):
    """Register text frontends (:class:`ttsfw.stages.Frontend`)."""


@hookspec
def ttsfw_register_acoustic_models(register):
    """Register acoustic models (:class:`ttsfw.stages.AcousticModel`)."""


@hookspec
def ttsfw_register_vocoders(register):
    """Register vocoders (:class:`ttsfw.stages.Vocoder`)."""


@hookspec
def ttsfw_register_denoisers(register):
    """Register denoisers (:class:`ttsfw.stages.Denoiser`); ``context.vocoder`` is built."""


@hookspec
def ttsfw_register_devices(register):
    """Register device backends (:class:`ttsfw.devices.DeviceBackend`)."""


@hookspec
def ttsfw_register_commands(register):
    """Register subcommands, ``python -m ttsfw NAME ARGS...``: the factory (or its
    ``"module:function"`` name) is ``main(argv: list[str]) -> int``, the exit status."""


@hookspec
def ttsfw_register_modes(register):
    """Register job modes, ``mode=NAME`` (its ``mode/NAME.yaml`` comes through
    ``ttsfw_config_search_path``): the factory is ``job(cfg, choices, run_dir) -> dict``, run in
    each Hydra job's directory."""


@hookspec
def ttsfw_register_engines(register):
    """Register where the synthesis job's engine runs, ``engine=NAME`` (its ``engine/NAME.yaml``
    comes through ``ttsfw_config_search_path``): the factory is ``executor(cfg, choices, lines,
    paths)`` returning a :class:`ttsfw.runner.Executor` for the input `lines` whose files are
    `paths` (0-based line -> path)."""


@hookspec
def ttsfw_register_runtimes(register):
    """Register runtimes, ``runtime=NAME`` (its ``runtime/NAME.yaml`` comes through
    ``ttsfw_config_search_path``): the factory returns a :class:`ttsfw.runtime.Runtime`, which
    builds the pipeline's acoustic model, vocoder and denoiser."""


@hookspec
def ttsfw_install_hints():
    """Return ``{(group, option): distribution}`` for components of distributions that may not
    be installed, so that asking for one says what to ``pip install``."""


@hookspec
def ttsfw_model_store():
    """Return a list of :class:`ttsfw.weights.StoredModel`: published checkpoints that a
    ``checkpoint:`` option may name, listed by ``python -m ttsfw download`` with how to get
    each (a URL downloaded into the cache, or a file an installed package brings)."""


@hookspec
def ttsfw_config_search_path():
    """Return a list of Hydra search paths (``pkg://...`` or ``file://...``) holding config
    group files (e.g. ``vocoder/myvocoder.yaml``) that this plugin contributes."""


@hookspec(firstresult=True)
def ttsfw_onnx_module(stage, component):
    """Return the ``torch.nn.Module`` that ``python -m ttsfw export`` writes as the ONNX graph of
    `component`, a built ``"vocoder"`` or ``"denoiser"`` stage (`stage`), if it is this
    plugin's; else None. A vocoder's module: ``forward(mel, *noise) -> audio`` (B, T * hop),
    with ``noise_shapes(batch, frames)`` and ``sigma`` if it samples (the runtime feeds
    sigma * N(0, 1) draws); a denoiser's: ``forward(audio, strength) -> audio``, with
    ``strength`` its default."""


@hookspec
def ttsfw_before_write(utterance, pipeline):
    """Called with each synthesised :class:`ttsfw.results.Utterance` (one sentence of an input
    line when long lines are split) before its audio is written; may replace
    ``utterance.audio`` (post-processing). ``pipeline.cfg`` is the composed config, where a
    plugin reads its own settings (``++my_plugin.gain=0.5``)."""


@hookspec
def ttsfw_after_write(utterance, path, pipeline):
    """Called once per input line after its complete audio file is written to ``path``
    (export, upload...); ``utterance.index`` and ``.text`` name the line, the audio is in the
    file (``utterance.audio`` is empty); ``pipeline`` as for ``ttsfw_before_write``."""
