"""Model store: names resolve to cached files, downloads resume, land atomically and are checked;
plugins contribute entries (also files an installed package brings). Every download comes from
a local HTTP server on 127.0.0.1; no test touches the internet."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from ttsfw import hookimpl, plugins
from ttsfw.weights import StoredModel
from ttsfw.weights.load import load_checkpoint, unwrap
from ttsfw.errors import CheckpointError, PluginError
from ttsfw.weights.store import cache_dir, checkpoint_kind, download, main, models, resolve

WAVEGLOW = "nvidia_waveglowpyt_fp32_20190427"


class Server:
    """Serves `files` (path -> bytes) with HTTP Range support; records each request's Range;
    `cut_after` bytes ends a response early (a dropped connection); `ranges=False` ignores Range."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.ranges_seen: list[str | None] = []
        self.cut_after: int | None = None
        self.ranges = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.ranges_seen.append(self.headers.get("Range"))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if server.ranges and self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                self.wfile.write(body if server.cut_after is None else body[: server.cut_after])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(golden):
    server = Server()
    server.files["/waveglow"] = (golden / "waveglow" / "ckpt_nvidia_fused.pt").read_bytes()
    server.files["/tacotron2"] = (golden / "tacotron2" / "ckpt_dle.pt").read_bytes()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TTSFW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_download_lands_in_the_cache_and_names_resolve_to_it(server, cache):
    path = download("waveglow", url=server.url("/waveglow"), progress=False)
    assert path == cache / f"{WAVEGLOW}.pt"
    assert path.read_bytes() == server.files["/waveglow"]
    assert resolve("waveglow") == resolve(WAVEGLOW) == path
    assert server.ranges_seen == [None]
    assert list(cache.iterdir()) == [path]  # no partial file left behind
    assert download("waveglow", url=server.url("/waveglow")) == path  # already there: no request
    assert len(server.ranges_seen) == 1


def test_interrupted_download_resumes_with_a_range_request(server, cache):
    data = server.files["/waveglow"]
    server.cut_after = len(data) // 3
    with pytest.raises(
        CheckpointError,
        match=r"download of nvidia_waveglowpyt_fp32_20190427 was interrupted .*run the same command again to resume it",
    ):
        download("waveglow", url=server.url("/waveglow"), progress=False)
    partial = cache / f"{WAVEGLOW}.pt.part"
    assert partial.read_bytes() == data[: len(data) // 3]
    assert not (cache / f"{WAVEGLOW}.pt").exists()
    server.cut_after = None
    path = download("waveglow", url=server.url("/waveglow"), progress=False)
    assert server.ranges_seen == [None, f"bytes={len(data) // 3}-"]
    assert path.read_bytes() == data and not partial.exists()


def test_a_server_that_ignores_range_restarts_the_file(server, cache):
    server.ranges = False
    cache.mkdir(parents=True)
    (cache / f"{WAVEGLOW}.pt.part").write_bytes(b"stale bytes")
    path = download("waveglow", url=server.url("/waveglow"), progress=False)
    assert path.read_bytes() == server.files["/waveglow"]


def test_a_complete_partial_file_is_checked_and_kept(server, cache):
    cache.mkdir(parents=True)
    (cache / f"{WAVEGLOW}.pt.part").write_bytes(server.files["/waveglow"])
    path = download("waveglow", url=server.url("/waveglow"), progress=False)  # server answers 416
    assert path.read_bytes() == server.files["/waveglow"]


def test_a_file_of_the_wrong_kind_is_removed(server, cache):
    with pytest.raises(
        CheckpointError,
        match=(
            r"downloaded nvidia_waveglowpyt_fp32_20190427 is not a usable waveglow checkpoint "
            r"\(it holds tacotron2, not waveglow\); removed it"
        ),
    ):
        download("waveglow", url=server.url("/tacotron2"), progress=False)
    assert list(cache.iterdir()) == []


def test_http_errors_are_reported(server):
    with pytest.raises(
        CheckpointError,
        match=r"download of nvidia_waveglowpyt_fp32_20190427 failed: HTTP 404 Not Found from http://127.0.0.1",
    ):
        download("waveglow", url=server.url("/missing"), progress=False)


def test_names_that_are_not_downloaded_or_unknown():
    with pytest.raises(
        CheckpointError,
        match=r"^model 'waveglow' is not downloaded: run `python -m ttsfw download waveglow`$",
    ):
        resolve("waveglow")
    with pytest.raises(
        CheckpointError,
        match=r"unknown model 'wavenet'; known: nvidia_tacotron2pyt_fp32_20190427, nvidia_waveglowpyt_fp32_20190427",
    ):
        download("wavenet")
    assert resolve("~/models/my.pt") == Path.home() / "models" / "my.pt"  # anything else is a path


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("TTSFW_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "ttsfw"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "ttsfw"


def test_command_lists_and_downloads(server, capsys):
    assert main([]) == 0
    listing = capsys.readouterr().out
    assert f"{WAVEGLOW} (alias: waveglow)  [not downloaded]" in listing
    assert main(["waveglow", "--url", server.url("/waveglow")]) == 0
    assert "waveglow: " in capsys.readouterr().out
    main([])
    assert f"{WAVEGLOW} (alias: waveglow)  [downloaded]" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["waveglow", "tacotron2", "--url", server.url("/waveglow")])
    assert "--url needs exactly one NAME" in capsys.readouterr().err


def test_checkpoint_kind_by_keys(golden):
    kinds = {}
    for name in (
        "waveglow/ckpt_dle.pt",
        "waveglow/ckpt_nvidia_fused.pt",
        "tacotron2/ckpt_nvidia.pt",
    ):
        tensors, _ = unwrap(load_checkpoint(golden / name))
        kinds[name] = checkpoint_kind(tensors)
    assert list(kinds.values()) == ["waveglow", "waveglow", "tacotron2"]
    assert checkpoint_kind({"conv_pre.weight": torch.zeros(1)}) is None


def test_published_urls_are_nvidias_ngc_files():
    assert models()[WAVEGLOW].url == (
        "https://api.ngc.nvidia.com/v2/models/nvidia/waveglow_ckpt_fp32/versions/19.09.0/files/"
        "nvidia_waveglowpyt_fp32_20190427"
    )
    assert models()["nvidia_tacotron2pyt_fp32_20190427"].url == (
        "https://api.ngc.nvidia.com/v2/models/nvidia/tacotron2_pyt_ckpt_fp32/versions/19.09.0/files/"
        "nvidia_tacotron2pyt_fp32_20190427"
    )


class InstalledFile:
    """A plugin contributing a store entry that an installed package brings (``locate``)."""

    def __init__(self, path: Path):
        self.path = path

    @hookimpl
    def ttsfw_model_store(self):
        return [StoredModel("packaged_voc", "hifigan", "A vocoder a wheel brings", locate=self.locate,
                            install="pip install packaged-voc-weights")]

    def locate(self) -> Path | None:
        return self.path if self.path.is_file() else None


def test_a_plugin_contributes_a_stored_model_located_in_an_installed_package(tmp_path, capsys):
    plugins.get_plugin_manager().register(InstalledFile(tmp_path / "voc.pt"), name="packaged")
    with pytest.raises(
        CheckpointError,
        match=r"^model 'packaged_voc' is not installed: run `pip install packaged-voc-weights`$",
    ):
        resolve("packaged_voc")
    with pytest.raises(CheckpointError, match="is not installed: run `pip install packaged-voc-weights`"):
        download("packaged_voc")  # nothing to download: it says what brings the file
    main([])
    assert ("packaged_voc  [not installed]\n  A vocoder a wheel brings\n  get it: pip install packaged-voc-weights"
            in capsys.readouterr().out)

    (tmp_path / "voc.pt").write_bytes(b"weights")
    assert resolve("packaged_voc") == download("packaged_voc") == tmp_path / "voc.pt"
    main([])
    assert f"packaged_voc  [installed]\n  A vocoder a wheel brings\n  file: {tmp_path / 'voc.pt'}" in capsys.readouterr().out
    assert list(models()) == sorted(models())  # listed by name, built-ins and plugins together


def test_a_name_contributed_twice_is_an_error(tmp_path):
    plugins.get_plugin_manager().register(InstalledFile(tmp_path / "a.pt"), name="one")
    plugins.get_plugin_manager().register(InstalledFile(tmp_path / "b.pt"), name="two")
    with pytest.raises(PluginError, match="stored model 'packaged_voc' is contributed twice"):
        models()


def test_a_stored_model_needs_one_source_and_a_located_one_an_install_hint():
    with pytest.raises(PluginError, match="needs exactly one of url and locate"):
        StoredModel("x", "hifigan", "neither")
    with pytest.raises(PluginError, match="has locate but no install hint"):
        StoredModel("x", "hifigan", "no hint", locate=lambda: None)
