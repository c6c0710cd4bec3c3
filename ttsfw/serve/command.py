"""``python -m ttsfw serve [--workers N] [overrides...]``: the HTTP server (docs/serving.md).

The voice, device and precision come from the same overrides as ``python -m ttsfw``
(``voice=``, ``device=``, ``precision=``...), the server's settings from ``serve.*``
(conf/serve/default.yaml). One process loads the voice before it listens, so ``/health``
answers once it is loaded and a bad config or checkpoint is one ``ttsfw: error:`` line. With
``--workers N`` uvicorn runs N processes on the one port, each loading the voice itself (the
overrides reach them in ``TTSFW_SERVE_OVERRIDES``) and taking ``1/N`` of the CPU cores
(``device.workers``, unless set); their metrics are summed through a shared directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from ..config import compose_config
from ..errors import ConfigError, TTSError
from ..reporting import voice_line
from ..settings import ServeSettings, typed

if TYPE_CHECKING:
    from fastapi import FastAPI

OVERRIDES_ENV = "TTSFW_SERVE_OVERRIDES"
#: uvicorn's exit status for a worker that could not start (its supervisor then stops)
STARTUP_FAILURE = 3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ttsfw serve",
        description="Serve the composed voice over HTTP: OpenAI's /v1/audio/speech (streamed), "
        "Coqui's /api/tts, /voices, /health, /metrics, a web page at / and the API docs at /docs.",
        epilog="e.g. python -m ttsfw serve voice=joe serve.port=8000 serve.max_batch=8 (docs/serving.md)",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="server processes on the port (serve.workers)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, as for python -m ttsfw")
    args = parser.parse_args(argv)
    overrides = [*args.overrides, *([f"serve.workers={args.workers}"] if args.workers is not None else [])]
    _require_extras()
    import uvicorn

    cfg, choices = compose_config(overrides)
    settings = typed(ServeSettings, cfg.serve, "serve")
    print(voice_line(cfg, choices), file=sys.stderr)
    options = dict(
        host=settings.host,
        port=settings.port,
        timeout_graceful_shutdown=settings.drain_s,
        limit_concurrency=2 * (settings.max_batch + settings.max_queue) + 16,
    )
    if settings.workers == 1:
        uvicorn.Server(uvicorn.Config(build_app(cfg, choices), **options)).run()
        return 0
    if "workers" in cfg.device and not any(o.startswith("device.workers=") for o in overrides):
        overrides.append(f"device.workers={settings.workers}")
    os.environ[OVERRIDES_ENV] = json.dumps(overrides)
    with tempfile.TemporaryDirectory(prefix="ttsfw-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, **options)
    return 0


def build_app(cfg: DictConfig, choices: dict[str, str]) -> "FastAPI":
    """The app for the composed config's voice (loaded here; the batcher warms it up), named by
    its ``voice=`` choice."""
    from ..pipeline import Pipeline
    from .app import create_app

    settings = typed(ServeSettings, cfg.serve, "serve")
    return create_app(Pipeline(cfg, choices), settings, choices.get("voice") or "default")


def worker_app() -> "FastAPI":
    """uvicorn's app factory in each ``--workers`` process."""
    try:
        return build_app(*compose_config(json.loads(os.environ[OVERRIDES_ENV])))
    except TTSError as exc:
        print(f"ttsfw: error: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


def _require_extras() -> None:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the server needs {exc.name}: pip install 'ttsfw[server]'") from None
