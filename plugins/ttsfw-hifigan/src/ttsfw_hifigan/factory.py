"""The ``hifigan`` vocoder factory: a config node -> a generator with its weights."""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from ttsfw.checkpoints import random_weights, resolve_checkpoint
from ttsfw.errors import ConfigError
from ttsfw.registry import BuildContext

from .checkpoint import ARCH_FIELDS, load_weights, read_config_json, read_generator_file
from .generator import Generator

log = logging.getLogger(__name__)


def build_hifigan(cfg: Any, context: BuildContext) -> Generator:
    """The ``vocoder:`` config node -> a HiFi-GAN generator (CPU, fp32, weight norm folded).

    ``checkpoint: random`` gives random weights seeded by ``init_seed``; a path loads a jik876
    generator file, whose ``config.json`` (if beside it) overrides the architecture fields.
    """
    if cfg.checkpoint is None:
        raise ConfigError(
            "no HiFi-GAN weights chosen: set vocoder.checkpoint=PATH (a jik876 generator file, "
            "e.g. LJ_FT_T2_V1/generator_v1, with its config.json beside it) or a model-store "
            "name, or vocoder.checkpoint=random"
        )
    arch = {key: cfg[key] for key in ARCH_FIELDS}
    arch["sample_rate"] = cfg.sample_rate
    if cfg.checkpoint == "random":

        def build() -> Generator:
            model = Generator(**arch, n_mel_channels=cfg.n_mel_channels)
            for module in [*model.ups.modules(), *model.resblocks.modules()]:
                if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                    nn.init.normal_(module.weight, 0.0, 0.01)  # jik876's init_weights
            return model

        return random_weights(cfg.init_seed, build)
    path = resolve_checkpoint(cfg.checkpoint)
    config_json = path.parent / "config.json"
    if config_json.is_file():
        log.info("HiFi-GAN architecture from %s", config_json)
        arch.update(read_config_json(config_json))
    state_dict = read_generator_file(path)
    model = Generator(**arch, n_mel_channels=cfg.n_mel_channels)
    load_weights(model, state_dict, str(path))
    return model
