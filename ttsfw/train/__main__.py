"""``python -m ttsfw.train KEY=VALUE ...``: train Tacotron2 (config: conf/train/train.yaml)."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from ..config import CONF_DIR
from ..errors import TTSError
from .trainer import Trainer


@hydra.main(config_path=str(CONF_DIR / "train"), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        Trainer(cfg).fit()
    except TTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
