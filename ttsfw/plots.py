"""Mel spectrogram and attention alignment plots as PNG files (needs matplotlib: ttsfw[plots])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError


def save_plots(
    mel: torch.Tensor | np.ndarray, alignment: torch.Tensor | np.ndarray, path_prefix: str | Path
) -> list[Path]:
    """Write ``<prefix>_mel.png`` from mel (n_mel, T) and ``<prefix>_alignment.png`` from
    alignment (T_out, T_in); return both paths."""
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, Agg rendering
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'ttsfw[plots]'") from None
    prefix = Path(path_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    panels = [
        ("mel", _as_array(mel), "frame", "mel channel", "log magnitude"),
        (
            "alignment",
            _as_array(alignment).T,
            "decoder step",
            "encoder step (symbol)",
            "attention weight",
        ),
    ]
    paths = []
    for suffix, image, xlabel, ylabel, colorbar_label in panels:
        figure = Figure(figsize=(10, 4))
        axes = figure.add_subplot()
        shown = axes.imshow(image, aspect="auto", origin="lower", interpolation="none")
        figure.colorbar(shown, ax=axes, label=colorbar_label)
        axes.set(xlabel=xlabel, ylabel=ylabel, title=f"{prefix.name} {suffix}")
        figure.tight_layout()
        path = prefix.with_name(f"{prefix.name}_{suffix}.png")
        figure.savefig(path, format="png", dpi=100)
        paths.append(path)
    return paths


def _as_array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    if x.ndim != 2:
        raise ValueError(f"save_plots expects 2-D arrays, got shape {x.shape}")
    return x
