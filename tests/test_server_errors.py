"""Bad input gets the right status and a clear OpenAI-style error, and the server keeps serving.

Every request goes to a server this module starts on 127.0.0.1. The private-address case points at a tripwire
listener on 127.0.0.1 that records any connection: the server must refuse the URL without ever contacting it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time

import httpx
import openai
import pytest
from PIL import Image

from glmv.engine.scripted import ScriptedEngine
from glmv.errors import RequestError
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing import image_data_uri

KEY = "sk-test-key"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    allowed = root / "allowed"
    allowed.mkdir()
    (allowed / "ok.png").write_bytes(_png(Image.new("RGB", (56, 56), "red")))
    (root / "secret.png").write_bytes(_png(Image.new("RGB", (56, 56), "blue")))
    os.symlink(root / "secret.png", allowed / "link.png")
    return allowed


@pytest.fixture(scope="module")
def engine():
    return ScriptedEngine(family="glm-4.6v", default="Fine.")


@pytest.fixture(scope="module")
def server(engine, media_dir):
    settings = ServerSettings(
        model_name="glm-test", api_key=KEY, allowed_local_media_path=media_dir, max_body_bytes=300_000
    )
    with BackgroundServer(engine, settings) as running:
        yield running


class Tripwire:
    """A TCP listener on 127.0.0.1 that counts every connection made to it."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.hits = 0
        self.socket.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.hits += 1
            connection.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.socket.close()


@pytest.fixture
def tripwire():
    wire = Tripwire()
    yield wire
    wire.close()
    assert wire.hits == 0, "the server contacted a loopback address it should have refused"


def _post(server, body, *, key=KEY, content=None, headers=None):
    all_headers = {"Authorization": f"Bearer {key}"} if key else {}
    all_headers.update(headers or {})
    if content is not None:
        return httpx.post(
            f"{server.base_url}/chat/completions", content=content, headers=all_headers, timeout=20
        )
    return httpx.post(f"{server.base_url}/chat/completions", json=body, headers=all_headers, timeout=20)


def _image_body(url: str) -> dict:
    return {
        "model": "glm-test",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, "Describe."]}
        ],
    }


def _still_serving(server) -> None:
    response = _post(server, {"model": "glm-test", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Fine."


def _bomb() -> str:
    image = Image.new("1", (12_000, 12_000))  # 144 megapixels, a few kilobytes of PNG
    return "data:image/png;base64," + base64.b64encode(_png(image)).decode()


def _truncated() -> str:
    data = _png(Image.effect_noise((64, 64), 40).convert("RGB"))
    return "data:image/png;base64," + base64.b64encode(data[: len(data) // 2]).decode()


CASES = [
    ("malformed json", dict(content=b'{"model": "glm-test", "messages": ['), 400, "not valid JSON"),
    ("body not an object", dict(content=b"[1, 2]"), 400, "JSON object"),
    ("no messages", dict(body={"model": "glm-test", "messages": []}), 422, "messages"),
    ("messages missing", dict(body={"model": "glm-test"}), 422, "messages"),
    ("bad role", dict(body={"messages": [{"role": "robot", "content": "x"}]}), 422, "role"),
    (
        "temperature out of range",
        dict(body={"messages": [{"role": "user", "content": "x"}], "temperature": 9}),
        422,
        "temperature",
    ),
    ("n zero", dict(body={"messages": [{"role": "user", "content": "x"}], "n": 0}), 422, "n"),
    (
        "unknown model",
        dict(body={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}),
        404,
        "gpt-4",
    ),
    (
        "unknown part type",
        dict(
            body={
                "messages": [
                    {"role": "user", "content": [{"type": "file_url", "file_url": {"url": "x.pdf"}}]}
                ]
            }
        ),
        400,
        "Unknown content part type 'file_url'",
    ),
    (
        "image part without url",
        dict(body={"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
        400,
        "without a URL",
    ),
    ("invalid base64", dict(body=_image_body("data:image/png;base64,@@not base64@@")), 400, "base64"),
    (
        "not an image",
        dict(body=_image_body("data:image/png;base64," + base64.b64encode(b"hello" * 20).decode())),
        400,
        "image",
    ),
    ("truncated image", dict(body=_image_body(_truncated())), 400, "image"),
    ("decompression bomb", dict(body=_image_body(_bomb())), 413, "pixels"),
    (
        "tool_choice required",
        dict(
            body={
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": "required",
                "tools": [{"type": "function", "function": {"name": "f"}}],
            }
        ),
        400,
        "tool_choice",
    ),
    (
        "tool_choice without tools",
        dict(body={"messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"}),
        422,
        "needs tools",
    ),
    ("oversize body", dict(body={"messages": [{"role": "user", "content": "x" * 400_000}]}), 413, "limit"),
    ("oversize chunked body", dict(content=iter([b'{"messages": "', b"y" * 400_000, b'"}'])), 413, "limit"),
    (
        "wrong api key",
        dict(body={"messages": [{"role": "user", "content": "x"}]}, key="sk-wrong"),
        401,
        "API key",
    ),
    (
        "missing api key",
        dict(body={"messages": [{"role": "user", "content": "x"}]}, key=None),
        401,
        "API key",
    ),
]


@pytest.mark.parametrize(("name", "request_args", "status", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_requests(server, name, request_args, status, fragment):
    response = _post(
        server,
        request_args.get("body"),
        key=request_args.get("key", KEY),
        content=request_args.get("content"),
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment.lower() in error["message"].lower()
    assert set(error) == {"message", "type", "param", "code"}
    _still_serving(server)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("outside", "{root}/secret.png"),
        ("dot-dot traversal", "{allowed}/../secret.png"),
        ("symlink out", "{allowed}/link.png"),
        ("system file", "/etc/passwd"),
    ],
)
def test_local_files_outside_the_allowed_folder_are_refused(server, media_dir, name, path):
    url = "file://" + path.format(root=media_dir.parent, allowed=media_dir)
    response = _post(server, _image_body(url))
    assert response.status_code == 400, response.text
    assert "outside the folder" in response.json()["error"]["message"]
    _still_serving(server)


def test_local_file_inside_the_allowed_folder_is_read(server, media_dir, engine):
    response = _post(server, _image_body(f"file://{media_dir}/ok.png"))
    assert response.status_code == 200, response.text
    assert engine.history[-1].messages[0]["content"][0]["image"].size == (56, 56)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_private_urls_are_refused_without_contacting_them(server, tripwire, host):
    response = _post(server, _image_body(f"http://{host}:{tripwire.port}/cat.png"))
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "private" in message.lower() or "public" in message.lower()
    _still_serving(server)


def test_openai_sdk_maps_statuses_to_its_exceptions(server):
    good = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    bad = openai.OpenAI(base_url=server.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="glm-test", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        good.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="file_url"):
        good.chat.completions.create(
            model="glm-test",
            messages=[{"role": "user", "content": [{"type": "file_url", "file_url": {"url": "a"}}]}],
        )
    with pytest.raises(openai.UnprocessableEntityError):
        good.chat.completions.create(model="glm-test", messages=[])
    assert good.chat.completions.create(model="glm-test", messages=[{"role": "user", "content": "x"}]).choices


def test_data_uri_image_accepted(server, engine):
    response = _post(server, _image_body(image_data_uri("blue")))
    assert response.status_code == 200
    assert engine.history[-1].messages[0]["content"][0]["image"].size == (84, 56)


def test_disconnecting_client_cancels_its_generation():
    engine = ScriptedEngine(family="glm-4.6v", default="word " * 400, delay=0.01)
    with BackgroundServer(engine, ServerSettings(model_name="glm-test")) as running:
        body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True}
        with httpx.stream("POST", f"{running.base_url}/chat/completions", json=body, timeout=10) as response:
            for count, _ in enumerate(response.iter_lines()):
                if count > 5:
                    break
        deadline = time.monotonic() + 5
        while engine.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.cancelled == 1 and engine.completed == 0
        # Non-streaming too: the client gives up after 0.3 s of a 4 s generation.
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{running.base_url}/chat/completions", json={**body, "stream": False}, timeout=0.3)
        deadline = time.monotonic() + 5
        while engine.cancelled < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.cancelled == 2 and engine.completed == 0
        metrics = httpx.get(f"{running.root_url}/metrics").text
        assert "glmv_requests_cancelled_total 2.0" in metrics


def test_client_leaving_before_the_first_chunk_cancels_its_stream():
    engine = ScriptedEngine(family="glm-4.6v", default="word " * 20, delay=2.0)
    with BackgroundServer(engine, ServerSettings(model_name="glm-test")) as running:
        body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True}
        url = f"{running.base_url}/chat/completions"
        with pytest.raises(httpx.ReadTimeout), httpx.stream("POST", url, json=body, timeout=0.3) as response:
            response.read()
        # The server notices at once, long before the engine's first chunk (2 s) would have arrived.
        deadline = time.monotonic() + 1.0
        cancelled = ""
        while "glmv_requests_cancelled_total 1.0" not in cancelled and time.monotonic() < deadline:
            cancelled = httpx.get(f"{running.root_url}/metrics").text
            time.sleep(0.05)
        assert "glmv_requests_cancelled_total 1.0" in cancelled
        deadline = time.monotonic() + 5
        while engine.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.cancelled == 1 and engine.completed == 0
        # The slot was given back: the server still answers.
        engine.enqueue("Still here.")
        engine.delay = 0.0
        reply = httpx.post(url, json={**body, "stream": False}, timeout=10)
        assert reply.json()["choices"][0]["message"]["content"] == "Still here."


def _encode_clip(path, frames: int = 12, fps: int = 6, size: tuple[int, int] = (64, 48)):
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            array = np.full((size[1], size[0], 3), index * 16, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_videos_are_read_under_the_policy_and_handed_over_as_bytes(server, media_dir, engine):
    clip = _encode_clip(media_dir / "clip.mp4")
    body = {
        "model": "glm-test",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": f"file://{clip}"}},
                    {"type": "text", "text": "What happens?"},
                ],
            }
        ],
    }
    assert _post(server, body).status_code == 200
    assert engine.history[-1].messages[0]["content"][0] == {"type": "video", "video": clip.read_bytes()}
    body["messages"][0]["content"][0]["video_url"]["url"] = f"file://{media_dir}/../elsewhere.mp4"
    response = _post(server, body)
    assert response.status_code == 400 and "outside the folder" in response.json()["error"]["message"]


class _Failing(ScriptedEngine):
    """Streams a few tokens of its scripted reply, then breaks (``after`` chunks in)."""

    def __init__(self, after: int, error: Exception) -> None:
        super().__init__(family="glm-4.6v", default="one two three four five six")
        self.after = after
        self.error = error

    def generate(self, request):
        for number, chunk in enumerate(super().generate(request)):
            if number == self.after:
                raise self.error
            yield chunk


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("CUDA out of memory"), 500), (RequestError("prompt too long", field="messages"), 400)],
)
def test_engine_failures_become_openai_errors(error, status):
    body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}]}
    with BackgroundServer(_Failing(0, error), ServerSettings(model_name="glm-test")) as running:
        url = f"{running.base_url}/chat/completions"
        for stream in (False, True):
            response = httpx.post(url, json={**body, "stream": stream}, timeout=10)
            assert response.status_code == status
            assert str(error) in response.json()["error"]["message"]


def test_failure_mid_stream_ends_with_an_error_event_and_done():
    body = {"model": "glm-test", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with BackgroundServer(
        _Failing(3, RuntimeError("device lost")), ServerSettings(model_name="glm-test")
    ) as running:
        with httpx.stream("POST", f"{running.base_url}/chat/completions", json=body, timeout=10) as response:
            lines = [line for line in response.iter_lines() if line]
        assert response.status_code == 200
        assert lines[-1] == "data: [DONE]"
        error = json.loads(lines[-2].removeprefix("data: "))["error"]
        assert error["type"] == "server_error" and "device lost" in error["message"]
