"""`load_hifigan`: a jik876/hifi-gan generator file -> a Generator for inference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttsfw.errors import CheckpointError

from .checkpoint import generator_options, load_weights, read_config_json, read_generator_file
from .generator import Generator


def load_hifigan(
    checkpoint: str | Path, config: str | Path | Mapping[str, Any] | None = None
) -> Generator:
    """Load a jik876 generator file (``g_XXXXXXXX``, ``generator_v1``; any weight-norm
    convention) into an fp32 CPU Generator in eval mode, weight norm folded.

    `config` is jik876's config of that generator: the path of its ``config.json``, or the dict
    jik876's scripts load it into (``h``); None takes the ``config.json`` beside the
    checkpoint, as jik876's ``inference.py`` does.
    """
    checkpoint = Path(checkpoint).expanduser()
    state_dict = read_generator_file(checkpoint)
    if isinstance(config, Mapping):
        options = generator_options(config, "the config")
    else:
        path = checkpoint.parent / "config.json" if config is None else Path(config).expanduser()
        if config is None and not path.is_file():
            raise CheckpointError(
                f"no config.json beside {checkpoint}: pass jik876's config of this generator, "
                f"load_hifigan(checkpoint, config=PATH_OR_DICT)"
            )
        options = read_config_json(path)
    model = Generator(**options)
    load_weights(model, state_dict, str(checkpoint))
    return model.eval()
