"""``runtime=``: what builds the acoustic model, vocoder and denoiser.

``runtime=torch`` (the default) builds each stage from its config node through the registry.
Another runtime is a component of kind ``runtime`` (``ttsfw_register_runtimes``): its factory
returns a `Runtime` whose `build` makes the stages its own way, e.g. ``runtime=onnxruntime``
from an export directory (docs/deploy.md), reading what it needs from the stage nodes.

No torch here: runtimes are registered before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING


class Runtime:
    """Builds the pipeline's acoustic model, vocoder and denoiser (this one: as configured)."""

    def build(self, registry: Any, kind: str, node: Any, context: Any) -> Any:
        """The ``acoustic``, ``vocoder`` or ``denoiser`` stage (`kind`) for config `node`;
        `context` is the pipeline's ``BuildContext`` (device, precision, stages so far)."""
        return registry.build(kind, node, context)


@dataclass
class TorchRuntimeSettings:
    name: str = MISSING


def build_torch_runtime(cfg: Any, context: Any) -> Runtime:
    """``runtime=torch``: every stage from its config node, in PyTorch."""
    return Runtime()
