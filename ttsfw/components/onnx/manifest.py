"""``manifest.json``: what an export directory holds, and the checks before it is run.

It names the ONNX opset, every graph with its input and output names, dtypes and shapes
(dynamic axes by name), the frontend's symbol table and cleaner settings, the audio facts
(sample rate, hop), the decoding facts (r, max steps, gate threshold, prenet dropout), the
sha256 of every file and the ttsfw version that wrote it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ... import __version__
from ...errors import ConfigError

FORMAT = "ttsfw-onnx"
#: bumped when the files' meaning changes; a runtime refuses a manifest of another version
VERSION = 1
NAME = "manifest.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, opset: int, stages: dict[str, Any]) -> dict[str, Any]:
    """Write ``directory/manifest.json`` for the exported `stages` (frontend, acoustic,
    vocoder, denoiser entries); every file they name gets its sha256."""
    files = {name: sha256(directory / name) for name in graph_files(stages)}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "ttsfw_version": __version__,
        "opset": opset,
        **stages,
        "sha256": files,
    }
    (directory / NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def graph_files(entry: Any) -> list[str]:
    """Every ``"file"`` named in a manifest entry, at any depth."""
    if isinstance(entry, dict):
        own = [entry["file"]] if isinstance(entry.get("file"), str) else []
        return own + [name for value in entry.values() for name in graph_files(value)]
    return []


def read_manifest(directory: str | Path | None) -> tuple[Path, dict[str, Any]]:
    """The export directory and its manifest, or a one-line ConfigError saying what is wrong."""
    if directory is None:
        raise ConfigError(
            "runtime=onnxruntime needs runtime.dir=DIR, a directory written by "
            "`python -m ttsfw export out=DIR`"
        )
    directory = Path(str(directory)).expanduser()
    path = directory / NAME
    if not path.is_file():
        raise ConfigError(
            f"runtime.dir={directory} holds no {NAME}: export there first with "
            f"`python -m ttsfw export out={directory}`"
        )
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); export again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a ttsfw ONNX export manifest (no \"format\": \"{FORMAT}\")")
    if manifest.get("version") != VERSION:
        raise ConfigError(
            f"{path} is version {manifest.get('version')} of the export format (written by ttsfw "
            f"{manifest.get('ttsfw_version')}); this ttsfw reads version {VERSION}: export again"
        )
    return directory, manifest


def checked_file(directory: Path, manifest: dict[str, Any], name: str) -> Path:
    """`directory/name` after checking it against the manifest's sha256."""
    path = directory / name
    expected = manifest["sha256"].get(name)
    if not path.is_file():
        raise ConfigError(f"{path} is missing: the export in {directory} is incomplete; export again")
    if expected is None or sha256(path) != expected:
        raise ConfigError(
            f"{path} does not match its sha256 in {directory / NAME}: the file was changed or "
            f"belongs to another export; export again"
        )
    return path


def check_symbols(manifest: dict[str, Any], symbols: Any) -> None:
    """The frontend of this run must speak the exported model's symbol table."""
    exported = manifest["frontend"]["symbols"]
    if list(symbols) != exported:
        raise ConfigError(
            f"the frontend's symbol table ({len(symbols)} symbols) differs from the exported "
            f"model's ({len(exported)} symbols, manifest frontend.symbols): choose the "
            f"frontend it was exported with ({manifest['frontend']['name']})"
        )
