"""``python -m ttsfw convert SRC DST --trust``: turn a whole-model NVIDIA/waveglow pickle into a
plain tensor checkpoint, once, so that ttsfw never has to unpickle code again.

NVIDIA/waveglow's ``train.py`` saves ``{'model': glow.WaveGlow}``: a pickled module object
(e.g. ``waveglow_256channels_universal_v5.pt``). ``torch.load(weights_only=True)`` refuses it,
and plain unpickling would need NVIDIA's ``glow`` module and may run any code the file names.
Here a restricted unpickler maps the ``glow``/``glow_old`` classes and torch's layer classes to
an inert stub that only receives attributes, lets through nothing but tensor rebuilding and
plain containers, and the weights are read from the modules' ``_parameters`` (``weight_g``/
``weight_v``; the pickled ``.weight`` attributes are stale and never used).
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ..errors import CheckpointError
from ..components.waveglow.model import WaveGlow
from .load import load_checkpoint

TRUST_HELP = (
    "Reading a pickled model means unpickling Python objects, and a pickle can make Python run "
    "any code it names: only pass --trust for files from a source you trust (e.g. NVIDIA's own "
    "download links). ttsfw still limits unpickling to what a WaveGlow file needs (tensors, "
    "containers, and stand-ins for NVIDIA's and torch's layer classes) and refuses anything else."
)

#: modules whose classes become inert stubs: NVIDIA/waveglow's model code and torch's layers
_STUBBED = {"glow", "glow_old", "torch.nn.utils.weight_norm"}
#: the only real callables a WaveGlow pickle may reach
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    # torch <= 1.0 modules pickle a `_backend` made by this; now a no-op kept for old pickles
    ("torch.nn.backends.thnn", "_get_thnn_function_backend"): lambda: None,
}


class PickledObject:
    """Stand-in for every stubbed class: holds the unpickled attributes, runs no code."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = {"__builtin__": "builtins"}.get(module, module)
        if module in _STUBBED or module.startswith("torch.nn.modules."):
            return PickledObject
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        raise pickle.UnpicklingError(
            f"the file needs {module}.{name}, which a WaveGlow model file does not; refusing to load it"
        )


#: what torch.load expects of `pickle_module`
_RESTRICTED_PICKLE = ModuleType("restricted_pickle")
_RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler
_RESTRICTED_PICKLE.load = lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load()


def read_pickled_model(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of the pickled ``{'model': WaveGlow}`` in `path` (restricted unpickling)."""
    try:
        with warnings.catch_warnings():  # stored class sources never match the stubs
            warnings.simplefilter("ignore", torch.serialization.SourceChangeWarning)
            obj = torch.load(
                path, map_location="cpu", pickle_module=_RESTRICTED_PICKLE, weights_only=False
            )
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable torch file (truncated or corrupt? {exc})"
        ) from None
    model = obj.get("model") if isinstance(obj, dict) else obj  # also a bare torch.save(model)
    if not isinstance(model, PickledObject):
        found = f"keys {sorted(map(str, obj))[:6]}" if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{path}: expected NVIDIA/waveglow's {{'model': WaveGlow}} pickle, found {found}"
        )
    return module_state_dict(model)


def module_state_dict(module: PickledObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """``state_dict()`` of an unpickled module tree, read from its attributes (any torch version)."""
    attributes = vars(module)
    skipped = attributes.get("_non_persistent_buffers_set", set())
    tensors = {
        prefix + name: value.detach()
        for group in ("_parameters", "_buffers")
        for name, value in attributes.get(group, {}).items()
        if value is not None and name not in skipped
    }
    for name, child in attributes.get("_modules", {}).items():
        if child is not None:
            tensors.update(module_state_dict(child, f"{prefix}{name}."))
    return tensors


def convert(src: str | Path, dst: str | Path, trust: bool = False) -> dict[str, torch.Tensor]:
    """Write the weights of the pickled WaveGlow `src` to `dst` as a plain tensor file
    (bare state dict, the file's own layout); return them. Needs ``trust=True``."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.is_file():
        raise CheckpointError(f"no such file: {src}")
    if dst.exists():
        raise CheckpointError(f"{dst} already exists; remove it or choose another output path")
    if _loads_safely(src):
        raise CheckpointError(
            f"{src} already holds only tensors: use it as it is, it needs no conversion"
        )
    if not trust:
        raise CheckpointError(
            f"{src} is a pickled whole-model file; converting it means unpickling Python objects, "
            f"which can run code stored in the file. If you trust its source, run again with --trust"
        )
    tensors = read_pickled_model(src)
    WaveGlow.from_state_dict(tensors, source=str(src))  # the weights must make a working model
    partial = dst.with_name(dst.name + ".part")
    torch.save(tensors, partial)
    os.replace(partial, dst)
    return tensors


def _loads_safely(path: Path) -> bool:
    try:
        load_checkpoint(path)
    except CheckpointError:
        return False
    return True


def main(argv: list[str]) -> int:
    """``python -m ttsfw convert SRC DST [--trust]``."""
    parser = argparse.ArgumentParser(
        prog="python -m ttsfw convert",
        description="Convert a whole-model NVIDIA/waveglow pickle ({'model': glow.WaveGlow}, e.g. "
        "waveglow_256channels_universal_v5.pt) into a plain tensor checkpoint that ttsfw loads "
        "safely (vocoder.checkpoint=DST). NVIDIA's code is not needed.",
        epilog=TRUST_HELP,
    )
    parser.add_argument("src", metavar="SRC", help="the pickled WaveGlow file")
    parser.add_argument(
        "dst", metavar="DST", help="where to write the tensor file (must not exist)"
    )
    parser.add_argument("--trust", action="store_true", help="allow unpickling SRC (see below)")
    args = parser.parse_args(argv)
    tensors = convert(args.src, args.dst, trust=args.trust)
    print(f"wrote {args.dst}: {len(tensors)} tensors; use it with vocoder.checkpoint={args.dst}")
    return 0
