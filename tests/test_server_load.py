"""Bounded load on loopback: 32 concurrent streaming clients, and a full queue answering 429 then recovering."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from glmv.engine.scripted import ScriptedEngine, split_tokens
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer

REPLY = "<think>Thinking it over.</think>The answer is <|begin_of_box|>42<|end_of_box|>."


async def _stream(client: httpx.AsyncClient, url: str, number: int) -> dict:
    body = {
        "model": "glm-test",
        "messages": [{"role": "user", "content": f"question {number}"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return {"status": response.status_code, "headers": response.headers, "body": response.text}
        lines = [line async for line in response.aiter_lines() if line]
    return {"status": 200, "lines": lines}


def _check_stream(lines: list[str]) -> None:
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len({p["id"] for p in payloads}) == 1
    reasoning = "".join(p["choices"][0]["delta"].get("reasoning", "") for p in payloads if p["choices"])
    content = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads if p["choices"])
    assert (reasoning, content) == ("Thinking it over.", "The answer is 42.")
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["completion_tokens"] > 0


async def _many(url: str, count: int) -> list[dict]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(*(_stream(client, url, i) for i in range(count)))


def test_32_concurrent_streams_all_complete_and_well_formed():
    engine = ScriptedEngine(family="glm-4.6v", default=REPLY, delay=0.01)
    with BackgroundServer(engine, ServerSettings(model_name="glm-test", max_concurrency=32)) as server:
        started = time.perf_counter()
        results = asyncio.run(_many(f"{server.base_url}/chat/completions", 32))
        elapsed = time.perf_counter() - started
    assert [r["status"] for r in results] == [200] * 32
    for result in results:
        _check_stream(result["lines"])
    assert engine.completed == 32
    # 32 generations of ~20 tokens at 10 ms each ran side by side, not one after another (32 × 0.2 s = 6.4 s).
    assert len(split_tokens(REPLY)) * 0.01 * 32 > 6 and elapsed < 4


def test_full_queue_answers_429_with_retry_after_then_serves_normally():
    engine = ScriptedEngine(family="glm-4.6v", default=REPLY, delay=0.03)
    settings = ServerSettings(model_name="glm-test", max_concurrency=2, max_queue=2, retry_after=3)
    with BackgroundServer(engine, settings) as server:
        url = f"{server.base_url}/chat/completions"
        results = asyncio.run(_many(url, 12))
        statuses = sorted(r["status"] for r in results)
        assert statuses.count(200) >= 4 and statuses.count(429) >= 1
        assert set(statuses) <= {200, 429}
        for result in results:
            if result["status"] == 429:
                assert result["headers"]["retry-after"] == "3"
                assert json.loads(result["body"])["error"]["type"] == "rate_limit_error"
            else:
                _check_stream(result["lines"])
        # Once the burst is over the server serves normally again.
        again = asyncio.run(_many(url, 4))
        assert [r["status"] for r in again] == [200] * 4
        metrics = httpx.get(f"{server.root_url}/metrics").text
        assert 'status="429"' in metrics
        assert "glmv_queue_depth 0.0" in metrics and "glmv_requests_running 0.0" in metrics


async def _stalled_and_prompt(url: str) -> tuple[float, dict]:
    """One client opens a stream and stops reading after the first line; another asks normally meanwhile."""
    async with httpx.AsyncClient(timeout=30) as client:
        slow_body = {
            "model": "glm-test",
            "messages": [{"role": "user", "content": "a very long answer, please"}],
            "stream": True,
        }
        async with client.stream("POST", url, json=slow_body) as stalled:
            assert stalled.status_code == 200
            lines = stalled.aiter_lines()
            await lines.__anext__()  # the role chunk arrived; now this client stops reading
            started = time.perf_counter()
            prompt = await _stream(client, url, 1)
            return time.perf_counter() - started, prompt


def test_a_client_that_stops_reading_does_not_stall_the_others():
    long_reply = "<think>" + "word " * 3000 + "</think>Done."
    engine = ScriptedEngine(family="glm-4.6v", default=REPLY, delay=0.001)
    engine.enqueue(long_reply)
    with BackgroundServer(engine, ServerSettings(model_name="glm-test", max_concurrency=4)) as server:
        elapsed, prompt = asyncio.run(_stalled_and_prompt(f"{server.base_url}/chat/completions"))
    assert prompt["status"] == 200
    _check_stream(prompt["lines"])
    # The prompt request streams ~20 tokens at 1 ms each; the stalled one holds ~6,000 tokens it cannot deliver.
    assert elapsed < 2.0
