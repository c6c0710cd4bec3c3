"""One torch module -> one ONNX file, and what the manifest says about it.

torch's TorchScript-based exporter (``dynamo=False``) is used: it traces the inference code as
it runs, maps ``pack_padded_sequence`` + LSTM onto ONNX's LSTM with ``sequence_lens`` (the
encoder), and needs no onnxscript. The ``dynamo=True`` exporter cannot export the encoder's
packed sequences (torch 2.13).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import nn

#: ONNX element types by their TensorProto number, as the manifest names them
ELEMENT_TYPES = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16"}


def export_graph(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    opset: int,
    dynamic_axes: Mapping[str, Mapping[int, str]],
    outputs: Sequence[str],
    inputs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Export `module` called on `args` to `path`; inputs are named after forward's parameters
    unless `inputs` names them. Return ``{"file", "inputs", "outputs"}``, each input and output
    with its dtype and shape (a dynamic axis by its name, e.g. ``["batch", 80, "time_out"]``)."""
    import onnx

    if inputs is None:
        inputs = list(inspect.signature(module.forward).parameters)[: len(args)]
    with torch.no_grad(), warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore")  # tracer warnings about shapes read as Python numbers
        torch.onnx.export(
            module.eval(), args, str(path), dynamo=False, opset_version=opset,
            input_names=list(inputs), output_names=list(outputs),
            dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
        )
    graph = onnx.load(str(path), load_external_data=False).graph
    return {"file": path.name, "inputs": describe(graph.input), "outputs": describe(graph.output)}


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Silence what C++ code prints to file descriptor 2 (the exporter's notes that it has no
    shape inference for the packed sequences; the graph's shapes are checked when it runs)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def describe(values: Any) -> dict[str, dict[str, Any]]:
    """ONNX value infos -> {name: {"dtype": "float32", "shape": ["batch", 80, ...]}}."""
    described = {}
    for value in values:
        tensor = value.type.tensor_type
        shape = [dim.dim_param or dim.dim_value for dim in tensor.shape.dim]
        dtype = ELEMENT_TYPES.get(tensor.elem_type, str(tensor.elem_type))
        described[value.name] = {"dtype": dtype, "shape": shape}
    return described
