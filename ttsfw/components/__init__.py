"""The built-in components, each in a plugin's shape: model, checkpoint formats, factory,
``plugin.py`` (its hooks: what it registers and its config files) and ``conf/`` side by side.

`PLUGINS` is what the plugin manager registers before any installed plugin.
"""

PLUGINS: tuple[str, ...] = tuple(
    f"ttsfw.components.{name}.plugin" for name in ("english", "tacotron2", "waveglow", "griffinlim", "onnx")
)
