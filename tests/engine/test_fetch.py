"""Model downloads against a real HTTP server on 127.0.0.1: a good file, a wrong checksum, a server
that is down, and a connection cut off halfway. Nothing half-written may become visible."""
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.cli import main
from engine.fetch import FetchError, Offline, fetch
from engine.registry import ModelFile, ModelSpec

PAYLOAD = bytes(range(256)) * 400  # 100 KiB stands in for a model file


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/cut"):  # announces the whole file, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def spec(url, name="model.bin", sha256=None, size=102400):
    item = ModelFile(name=name, url=url, size=size, sha256=sha256 or hashlib.sha256(PAYLOAD).hexdigest())
    return ModelSpec(kind="embedder", name="test-model", path=Path(name),
                     format="embedding", input_size=(8, 8), files=(item,))


def test_good_download_is_checked_and_placed(server, tmp_path):
    paths = fetch(spec(f"{server}/model.bin"), tmp_path, quiet=True)
    assert paths == [tmp_path / "model.bin"] and paths[0].read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]  # no temporary file left
    fetch(spec(f"{server}/missing"), tmp_path, quiet=True)  # present and verified: not fetched again


def test_wrong_checksum_is_discarded(server, tmp_path):
    with pytest.raises(FetchError, match="sha256 checksum mismatch.*discarded"):
        fetch(spec(f"{server}/model.bin", sha256="0" * 64), tmp_path, quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_server_down_says_offline(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Offline, match="could not reach 127.0.0.1"):
        fetch(spec(f"http://127.0.0.1:{port}/model.bin"), tmp_path, timeout=2, quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_off_halfway_leaves_nothing(server, tmp_path):
    with pytest.raises(FetchError, match="cut off"):
        fetch(spec(f"{server}/cut"), tmp_path, timeout=5, quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_named(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(spec(f"{server}/missing/model.bin"), tmp_path, quiet=True)


def test_cli_lists_models_and_fails_clearly_offline(capsys, model_dirs, tmp_path):
    model_dirs(tmp_path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "nanodet-coco" in out and "present" in out
    assert "vehicle-reid-0001" in out and "missing" in out and "models fetch vehicle-reid-0001" in out
    assert main(["models", "fetch", "no-such-model"]) == 2
    assert "unknown model no-such-model" in capsys.readouterr().err
