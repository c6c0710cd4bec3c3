"""The ``hifigan`` vocoder factory: a config node -> a generator with its weights."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from ttsfw import BuildContext
from ttsfw.weights import from_checkpoint_option

from .checkpoint import ARCH_FIELDS, generator_options
from .generator import Generator
from .load import load_hifigan

log = logging.getLogger(__name__)


def build_hifigan(cfg: Any, context: BuildContext) -> Generator:
    """The ``vocoder:`` config node -> a HiFi-GAN generator (CPU, fp32, weight norm folded).

    ``checkpoint: random`` gives random weights seeded by ``init_seed``; a path loads a jik876
    generator file, whose ``config.json`` (if beside it) overrides the architecture fields.
    """
    # the yaml's architecture in jik876's names; a config.json beside the checkpoint replaces it
    h = {key: cfg[key] for key in ARCH_FIELDS}
    h.update(sampling_rate=cfg.sample_rate, num_mels=cfg.n_mel_channels)

    def build_random() -> Generator:
        model = Generator(**generator_options(h, "the vocoder config"))
        for module in [*model.ups.modules(), *model.resblocks.modules()]:
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.normal_(module.weight, 0.0, 0.01)  # jik876's init_weights
        return model

    def load(path: Path) -> Generator:
        beside = path.parent / "config.json"
        if beside.is_file():
            log.info("HiFi-GAN architecture from %s", beside)
        return load_hifigan(path, None if beside.is_file() else h)

    return from_checkpoint_option(
        cfg.checkpoint, "vocoder.checkpoint",
        "a jik876 generator file, e.g. LJ_FT_T2_V1/generator_v1, with its config.json beside it",
        cfg.init_seed, build_random, load,
    )
