"""`glmv serve` as a user runs it: a subprocess listening on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_glmv_serve_subprocess_serves_models_with_its_key(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "glmv", "serve", "-m", "scripted:glm-4.6v", "--port", str(port)]
    command += [
        "--api-key",
        "k",
        "--served-model-name",
        "glm-cli",
        "--allowed-local-media-path",
        str(tmp_path),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "glmv serve did not start"
            time.sleep(0.2)
        models = httpx.get(f"{root}/v1/models", headers={"Authorization": "Bearer k"}).json()
        assert [m["id"] for m in models["data"]] == ["glm-cli"]
        assert httpx.get(f"{root}/v1/models").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_bad_allowed_media_folder_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "glmv",
            "serve",
            "-m",
            "scripted",
            "--allowed-local-media-path",
            str(tmp_path / "no"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is not a folder" in " ".join(result.stderr.split())
