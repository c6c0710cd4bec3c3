"""ONNX export of every stage (``python -m ttsfw export``) and ``runtime=onnxruntime``, which
runs the same engine from the exported files. See docs/deploy.md."""
