"""`glmv serve` as a user runs it: a subprocess listening on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from glmv.testing.serving import free_port, wait_until_healthy


@contextmanager
def _serving(*options: str) -> Iterator[str]:
    """``glmv serve OPTIONS`` in a subprocess on a free port; yields its root URL once /health answers."""
    port = free_port()
    command = [sys.executable, "-m", "glmv", "serve", *options, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        root = f"http://127.0.0.1:{port}"
        wait_until_healthy(root, process)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_glmv_serve_subprocess_serves_models_with_its_key(tmp_path):
    options = ["-m", "scripted:glm-4.6v", "--api-key", "k", "--served-model-name", "glm-cli"]
    with _serving(*options, "--allowed-local-media-path", str(tmp_path)) as root:
        models = httpx.get(f"{root}/v1/models", headers={"Authorization": "Bearer k"}).json()
        assert [m["id"] for m in models["data"]] == ["glm-cli"]
        assert httpx.get(f"{root}/v1/models").status_code == 401


def test_glmv_serve_names_the_model_after_its_family_and_accepts_the_model_path(tmp_path):
    """The README's `glmv chat --api ... -m glm-4.6v-flash` works against `glmv serve -m PATH`.

    Nothing is queued in the subprocess's scripted engine, so a request that reaches it is answered with its
    "no reply left" error; a request for a model the server does not serve never gets there (404).
    """
    with _serving("-m", "scripted", "--family", "glm-4.6v-flash") as root:
        models = httpx.get(f"{root}/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["glm-4.6v-flash"]
        for name, reached in (("glm-4.6v-flash", True), ("scripted", True), ("glm-4.5v", False)):
            body = {"model": name, "messages": [{"role": "user", "content": "Hi"}]}
            reply = httpx.post(f"{root}/v1/chat/completions", json=body, timeout=20)
            assert ("no reply left" in reply.text) is reached, (name, reply.text)
            assert (reply.status_code == 404) is not reached


def test_glmv_serve_with_an_unknown_family_says_which_exist():
    result = subprocess.run(
        [sys.executable, "-m", "glmv", "serve", "-m", "scripted", "--family", "glm-5v"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Choose one of: glm-4.1v-thinking" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("hidden", ["fastapi", "uvicorn", "prometheus_client"])
def test_glmv_serve_without_the_serve_extra_says_what_to_install(hidden):
    """Run as if ``hidden`` were not installed (``sys.modules[name] = None`` makes its import fail)."""
    program = (
        f"import sys; sys.modules[{hidden!r}] = None; "
        "sys.argv = ['glmv', 'serve', '-m', 'scripted']; "
        "from glmv.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    error = " ".join(result.stderr.split())
    assert result.returncode == 1, result.stderr
    assert f"{hidden} (needed by glmv serve) is not installed" in error
    assert "pip install 'glmv[serve]'" in error
    assert "Traceback" not in result.stderr


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


@pytest.mark.slow
def test_glmv_serve_max_model_len_refuses_a_longer_prompt_with_the_limit_and_the_count(tiny_checkpoints):
    folder = tiny_checkpoints("glm-4.6v-flash", taught=False)
    with _serving("-m", str(folder), "--max-model-len", "64", "--device", "cpu") as root:
        body = {"messages": [{"role": "user", "content": "hello " * 200}]}
        reply = httpx.post(f"{root}/v1/chat/completions", json=body, timeout=60)
        assert reply.status_code == 400, reply.text
        assert "the model's context is 64 tokens" in reply.json()["error"]["message"]
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        assert httpx.post(f"{root}/v1/chat/completions", json=body, timeout=60).status_code == 200


@pytest.mark.slow
def test_glmv_serve_with_a_static_kv_cache_says_what_it_reserves_and_caps_the_context(tiny_checkpoints):
    folder = tiny_checkpoints("glm-4.6v-flash", taught=False)
    port = free_port()
    options = ["-m", str(folder), "--device", "cpu", "--port", str(port), "--max-batch-size", "2"]
    options += ["--kv-cache", "static", "--kv-cache-len", "96"]
    command = [sys.executable, "-m", "glmv", "serve", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        root = f"http://127.0.0.1:{port}"
        wait_until_healthy(root, process)
        body = {"messages": [{"role": "user", "content": "hello " * 120}]}
        reply = httpx.post(f"{root}/v1/chat/completions", json=body, timeout=60)
        assert reply.status_code == 400, reply.text
        assert "the model's context is 96 tokens" in reply.json()["error"]["message"]
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        assert httpx.post(f"{root}/v1/chat/completions", json=body, timeout=60).status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "KV cache: static, 2 rows × 96 tokens" in output
