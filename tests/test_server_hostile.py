"""`glmv serve` under hostile input: every bad request is a 4xx that says why, and the server keeps serving.

The attack table runs against a random-weight tiny GLM-4.6V-Flash (a real LocalEngine, context lowered to 2,048
tokens) over real HTTP on 127.0.0.1; after each attack a normal request must still get a reply. Memory and
shutdown are checked on a server in a subprocess (its RSS read from /proc, its stderr read for tracebacks);
stuck and slow clients on a scripted engine with short timeouts.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from PIL import Image

from glmv.engine.scripted import ScriptedEngine
from glmv.errors import ConfigError
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing.serving import free_port, wait_until_healthy

pytestmark = pytest.mark.slow

FAMILY = "glm-4.6v-flash"
CONTEXT = 2048


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _text_bomb() -> bytes:
    """A 56x56 PNG with a zTXt chunk that inflates to 64 MB (64 kB on the wire)."""
    image = _png(Image.new("RGB", (56, 56), "red"))
    bomb = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (64 << 20), 9))
    return image[:33] + bomb + image[33:]


def _header_only_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(buffer, format="JPEG")
    data = buffer.getvalue()
    return data[: data.index(b"\xff\xda") + 2]  # everything up to the start of scan: headers, no pixels


def _image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def _user(content) -> dict:
    return {"messages": [{"role": "user", "content": content}], "max_tokens": 4}


def _history(tool_call) -> dict:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "content": "sunny"},
    ]
    return {"messages": messages, "max_tokens": 4}


def _nested(depth: int) -> bytes:
    return b'{"messages": [{"role": "user", "content": "x"}], "tools": ' + b"[" * depth + b"]" * depth + b"}"


WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}

SMALL_7000 = _png(Image.new("1", (7000, 7000)))  # 49 megapixels in a few kB: just under the per-image limit

# (name, body (a dict sent as JSON, or raw bytes), status, fragment of the error message)
ATTACKS = [
    ("JSON nested 100,000 deep", b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested"),
    ("JSON nested 200 deep", _nested(200), 400, "nested more than 64"),
    ("seed past 64 bits", {**_user("hi"), "seed": 2**70}, 422, "seed"),
    ("seed below -2**63", {**_user("hi"), "seed": -(2**63) - 1}, 422, "seed"),
    ("lone surrogate", b'{"messages": [{"role": "user", "content": "a \\ud800 b"}]}', 400, "surrogate"),
    (
        "lone surrogate in a key",
        b'{"messages": [{"role": "user", "content": "x", "\\udfff": 1}]}',
        400,
        "surrogate",
    ),
    ("<|image|> typed in text", _user("what is <|image|> here?"), 400, "<|image|>"),
    ("<|video|> typed in a part", _user([{"type": "text", "text": "<|video|>"}]), 400, "<|video|>"),
    (
        "<|begin_of_image|> in a system message",
        {"messages": [{"role": "system", "content": "<|begin_of_image|>"}, {"role": "user", "content": "x"}]},
        400,
        "reserves for media",
    ),
    ("tool_calls entry a string", _history("get_weather"), 422, "tool_calls"),
    (
        "tool_calls function a string",
        _history({"type": "function", "function": "get_weather"}),
        422,
        "function",
    ),
    (
        "tool_calls without a name",
        _history({"type": "function", "function": {"arguments": "{}"}}),
        422,
        "name",
    ),
    (
        "tool_calls arguments a list",
        _history({"type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}),
        422,
        "JSON object",
    ),
    (
        "tool_calls arguments not JSON",
        _history({"type": "function", "function": {"name": "f", "arguments": "{city: Paris"}}),
        422,
        "not JSON",
    ),
    (
        "1x100000 image",
        _user([_image_part(_uri(_png(Image.new("L", (1, 100_000)))))]),
        400,
        "too long and thin",
    ),
    ("header-only JPEG", _user([_image_part(_uri(_header_only_jpeg(), "image/jpeg"))]), 400, "image"),
    ("PNG text-chunk bomb", _user([_image_part(_uri(_text_bomb()))]), 413, "text-chunk bomb"),
    ("NUL byte in a file path", _user([_image_part("file:///tmp/ok\u0000.png")]), 400, "NUL"),
    ("percent-encoded NUL in a file path", _user([_image_part("file:///tmp/ok%00.png")]), 400, "NUL"),
    ("16 x 7000x7000 images", _user([_image_part(_uri(SMALL_7000))] * 16), 413, "max_request_pixels"),
    ("prompt past the context", _user("hello " * 3000), 400, f"context is {CONTEXT:,} tokens"),
    ("max_tokens past the context", {**_user("hi"), "max_tokens": CONTEXT}, 400, "lower max_tokens"),
    (
        "5 MB tool description",
        {
            **_user("hi"),
            "tools": [{"type": "function", "function": {"name": "f", "description": "word " * 1_000_000}}],
        },
        400,
        "context",
    ),
    ("17 stop strings", {**_user("hi"), "stop": [f"s{i}" for i in range(17)]}, 400, "at most 16 stop"),
    ("a 2,000-character stop string", {**_user("hi"), "stop": ["x" * 2000]}, 400, "at most 1024"),
    (
        "response_format json_object",
        {**_user("hi"), "response_format": {"type": "json_object"}},
        400,
        "response_format 'json_object' is not supported",
    ),
    (
        "response_format json_schema",
        {**_user("hi"), "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
        400,
        "does not constrain decoding",
    ),
    ("top_logprobs past 20", {**_user("hi"), "logprobs": True, "top_logprobs": 21}, 422, "top_logprobs"),
    ("top_logprobs without logprobs", {**_user("hi"), "top_logprobs": 2}, 400, "top_logprobs needs logprobs"),
]


@pytest.fixture(scope="module")
def server(tiny_checkpoints, tmp_path_factory):
    from glmv.engine.local import LocalEngine

    engine = LocalEngine(tiny_checkpoints(FAMILY, taught=False), max_model_len=CONTEXT)
    settings = ServerSettings(
        model_name="tiny", allowed_local_media_path=tmp_path_factory.mktemp("media"), max_body_bytes=16 << 20
    )
    with BackgroundServer(engine, settings) as running:
        yield running
    engine.close()


def _send(server, body) -> httpx.Response:
    url = f"{server.base_url}/chat/completions"
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=60)
    return httpx.post(url, json=body, timeout=60)


def _still_serving(server) -> None:
    response = _send(server, _user("Hello"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] in ("stop", "length")


@pytest.mark.parametrize(("name", "body", "status", "fragment"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_a_4xx_that_says_why(server, name, body, status, fragment):
    response = _send(server, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment.lower() in error["message"].lower(), error["message"]
    _still_serving(server)


@pytest.mark.parametrize("stream", [False, True], ids=["full", "streamed"])
def test_box_markers_typed_by_a_user_are_text_as_in_vllm(server, stream):
    body = {**_user("Draw <|begin_of_box|>[1,2,3,4]<|end_of_box|> <think>"), "stream": stream}
    response = _send(server, body)
    assert response.status_code == 200, response.text


# -- memory: measured on a server in its own process -----------------------------------------------------------

_SERVER_PROGRAM = textwrap.dedent(
    """
    import sys
    from glmv.engine.scripted import ScriptedEngine
    from glmv.server import ServerSettings, run_server

    port, delay, shutdown = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    engine = ScriptedEngine(family="glm-4.6v", default="word " * 40, delay=delay)
    settings = ServerSettings(model_name="glm-test", max_body_bytes=8 << 20, shutdown_timeout=shutdown)
    run_server(engine, settings, host="127.0.0.1", port=port)
    """
)


@contextmanager
def _subprocess_server(delay: float = 0.0, shutdown: float = 10.0) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER_PROGRAM, str(port), str(delay), str(shutdown)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(root, process, interval=0.1)
        yield process, root
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_sixteen_7000_squared_images_keep_the_server_under_one_more_gigabyte():
    """Each image passes the per-image limit; together they pass the request's pixel budget, measured from the
    headers before anything is decoded. One such image alone is decoded (after admission) and served."""
    body = {
        "model": "glm-test",
        "messages": [{"role": "user", "content": [_image_part(_uri(SMALL_7000))] * 16}],
    }
    with _subprocess_server() as (process, root):
        url = f"{root}/v1/chat/completions"
        assert (
            httpx.post(url, json={**body, "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
        )
        before = _memory_kb(process.pid, "VmRSS")
        for _ in range(3):
            response = httpx.post(url, json=body, timeout=60)
            assert response.status_code == 413, response.text
            assert "max_request_pixels" in response.json()["error"]["message"]
        one = {
            "model": "glm-test",
            "messages": [{"role": "user", "content": [_image_part(_uri(SMALL_7000)), "x"]}],
        }
        assert httpx.post(url, json=one, timeout=60).status_code == 200
        peak = _memory_kb(process.pid, "VmHWM")
    assert peak - before < 1024 * 1024, f"the server grew by {(peak - before) / 1024:.0f} MB"


# -- stuck and slow clients ------------------------------------------------------------------------------------


def _stuck_stream(server: BackgroundServer) -> socket.socket:
    """A socket that sends a streaming request with a long reply and never reads it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    body = json.dumps({"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True})
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())
    return sock


def _gauge(server: BackgroundServer, name: str) -> float:
    for line in httpx.get(f"{server.root_url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(name)


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_clients_that_never_read_or_leave_the_queue_do_not_hold_the_server():
    engine = ScriptedEngine(family="glm-4.6v", default="word " * 100_000, delay=0.0001)
    settings = ServerSettings(model_name="glm-test", max_concurrency=2, max_queue=1, write_timeout=3)
    with BackgroundServer(engine, settings) as server:
        url = f"{server.base_url}/chat/completions"
        stuck = [_stuck_stream(server) for _ in range(2)]
        assert _wait_for(lambda: _gauge(server, "glmv_requests_running") == 2, 5)
        # A third client waits in the queue, gives up, and leaves the queue at once.
        body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "max_tokens": 3}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, json=body, timeout=0.5)
        assert _wait_for(lambda: _gauge(server, "glmv_queue_depth") == 0, 1.0)
        # The two that never read are dropped after the write timeout; their slots come back.
        assert _wait_for(lambda: _gauge(server, "glmv_requests_running") == 0, 30)
        for _ in range(3):
            reply = httpx.post(url, json=body, timeout=10)
            assert reply.status_code == 200, reply.text
        assert engine.cancelled >= 2
        for sock in stuck:
            sock.close()


def _read_response(sock: socket.socket) -> str:
    """One whole HTTP response from ``sock`` (head and ``Content-Length`` body, however the bytes were cut)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length and (more := sock.recv(4096)):
        body += more
    return (head + b"\r\n\r\n" + body).decode()


def test_slow_headers_and_bodies_time_out():
    settings = ServerSettings(model_name="glm-test", header_timeout=1, body_timeout=1)
    with BackgroundServer(ScriptedEngine(family="glm-4.6v", default="Fine."), settings) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sock.settimeout(5)
            try:
                while True:
                    sock.sendall(b"X-Drip: 1\r\n")
                    time.sleep(0.2)
            except OSError:  # the server closed the connection
                pass
        assert time.monotonic() - started < 4
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
            sock.sendall(head + b'{"messages": ')
            sock.settimeout(5)
            answer = _read_response(sock)
        assert answer.startswith("HTTP/1.1 408"), answer
        assert "did not arrive within 1 s" in answer
        reply = httpx.post(
            f"{server.base_url}/chat/completions",
            json={"model": "glm-test", "messages": [{"role": "user", "content": "x"}]},
            timeout=10,
        )
        assert reply.status_code == 200


# -- shutdown and logs -----------------------------------------------------------------------------------------


def _collect_stream(url: str, out: list, max_tokens: int | None = None) -> None:
    body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True}
    if max_tokens:
        body["max_tokens"] = max_tokens
    try:
        with httpx.stream("POST", url, json=body, timeout=30) as response:
            out.extend(line for line in response.iter_lines() if line)
    except httpx.HTTPError as exc:
        out.append(f"error: {exc!r}")


def test_sigterm_lets_short_streams_finish_and_ends_the_rest_with_an_error_and_done():
    with _subprocess_server(delay=0.1, shutdown=1.5) as (process, root):
        url = f"{root}/v1/chat/completions"
        # A client that disconnects mid-stream: one debug line, no traceback.
        with httpx.stream(
            "POST",
            url,
            json={"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True},
            timeout=10,
        ) as response:
            next(response.iter_lines())
        short: list[str] = []
        long: list[str] = []
        threads = [
            threading.Thread(target=_collect_stream, args=(url, short, 5)),
            threading.Thread(target=_collect_stream, args=(url, long)),
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=20)
        process.wait(timeout=20)
        log = process.stdout.read()
    assert process.returncode in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal it handled
    assert short[-1] == "data: [DONE]" and '"finish_reason":"length"' in short[-2], short
    assert long[-1] == "data: [DONE]", long
    error = json.loads(long[-2].removeprefix("data: "))["error"]
    assert error["code"] == "shutting_down" and "shut down" in error["message"]
    assert "Traceback" not in log and "Exception in ASGI" not in log, log


# -- auth ------------------------------------------------------------------------------------------------------


def test_an_empty_api_key_is_refused_not_taken_as_no_auth():
    with pytest.raises(ConfigError, match="silently turn authentication off"):
        ServerSettings(api_key="")
    result = subprocess.run(
        [sys.executable, "-m", "glmv", "serve", "-m", "scripted", "--api-key", ""],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GLMV_API_KEY": ""},
    )
    assert result.returncode == 1
    assert "API key is empty" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "open_paths"),
    [
        ({}, set()),
        ({"public_metrics": True}, {"/metrics"}),
        ({"docs": True}, {"/docs", "/redoc", "/openapi.json"}),
    ],
    ids=["default", "public metrics", "docs"],
)
def test_metrics_and_docs_follow_the_key_unless_opened(options, open_paths):
    settings = ServerSettings(model_name="glm-test", api_key="k", **options)
    with BackgroundServer(ScriptedEngine(family="glm-4.6v", default="Fine."), settings) as server:
        assert httpx.get(f"{server.root_url}/health").status_code == 200
        for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
            anonymous = httpx.get(f"{server.root_url}{path}")
            assert anonymous.status_code == (200 if path in open_paths else 401), path
            keyed = httpx.get(f"{server.root_url}{path}", headers={"Authorization": "Bearer k"})
            assert keyed.status_code == 200, path
