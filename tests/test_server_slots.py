"""The admission slot comes back however a request ends: a server with room for one request at a time and no
queue answers 429 to the next request if any ending leaked its slot."""

from __future__ import annotations

import time

import httpx
import pytest

from glmv.engine.scripted import ScriptedEngine
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer


class _Switch(ScriptedEngine):
    """Behaves as the prompt says: ``ok``, ``fail-now``, ``fail-later`` (after 3 chunks) or ``slow``."""

    def __init__(self) -> None:
        super().__init__(family="glm-4.6v", default="one two three four five six seven eight")

    def generate(self, request):
        how = request.messages[-1]["content"]
        for number, chunk in enumerate(super().generate(request)):
            if how == "fail-now" or (how == "fail-later" and number == 3):
                raise RuntimeError("device lost")
            if how == "slow":
                time.sleep(0.5)
            yield chunk


@pytest.fixture(scope="module")
def server():
    settings = ServerSettings(model_name="glm-test", max_concurrency=1, max_queue=0)
    with BackgroundServer(_Switch(), settings) as running:
        yield running


def _body(how: str, stream: bool) -> dict:
    return {"model": "glm-test", "messages": [{"role": "user", "content": how}], "stream": stream}


def _end(server, how: str, stream: bool) -> None:
    url = f"{server.base_url}/chat/completions"
    if how == "slow":  # the client leaves early: before the first chunk (0.2 s) or after it (stream, 0.8 s)
        timeout = 0.8 if stream else 0.2
        try:
            with httpx.stream("POST", url, json=_body(how, stream), timeout=timeout) as response:
                for _ in response.iter_lines():
                    pass
        except httpx.ReadTimeout:
            return
        raise AssertionError("the slow reply finished before the client left")
    with httpx.stream("POST", url, json=_body(how, stream), timeout=10) as response:
        response.read()


def _running(server) -> str:
    return next(
        line
        for line in httpx.get(f"{server.root_url}/metrics").text.splitlines()
        if line.startswith("glmv_requests_running ")
    )


@pytest.mark.parametrize("stream", [False, True], ids=["full", "streamed"])
@pytest.mark.parametrize("how", ["ok", "fail-now", "fail-later", "slow"])
def test_every_ending_gives_the_slot_back(server, how, stream):
    _end(server, how, stream)
    deadline = time.monotonic() + 5
    while _running(server) != "glmv_requests_running 0.0" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(server) == "glmv_requests_running 0.0"
    probe = httpx.post(f"{server.base_url}/chat/completions", json=_body("ok", False), timeout=10)
    assert probe.status_code == 200, probe.text
