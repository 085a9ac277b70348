"""``glmv web --mcp`` over real HTTP: the page's MCP server on 127.0.0.1, driven by the ``mcp`` Python client the
way an agent client drives it. One server over a scripted engine for the module; each test opens its own MCP
session, lists or calls the tools and checks what the client reads back."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest
from PIL import Image

pytest.importorskip("gradio")
pytest.importorskip("mcp")

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from glmv.engine import ScriptedEngine
from glmv.testing.serving import free_port


def _data_uri(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def engine() -> ScriptedEngine:
    return ScriptedEngine(family="glm-4.6v")


@pytest.fixture(scope="module")
def url(engine):
    from glmv.web import WebSettings, launch

    port = free_port()
    demo = launch(engine, WebSettings(model="scripted"), port=port, block=False, quiet=True, mcp=True)
    yield f"http://127.0.0.1:{port}/gradio_api/mcp/"
    demo.close()


def _session(url: str, work):
    """Run ``work(session)`` in one MCP client session against ``url`` and return what it returns."""

    async def run():
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def _call(url: str, tool: str, arguments: dict):
    async def work(session):
        return await session.call_tool(tool, arguments)

    return _session(url, work)


def test_the_tools_are_listed_with_what_an_agent_needs_to_call_them(url):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in _session(url, work)}
    assert set(tools) == {"ask", "ground"}
    ask, ground = tools["ask"], tools["ground"]
    assert ask.inputSchema["required"] == ["question"]
    assert ask.inputSchema["properties"]["images"]["description"].startswith(
        "the images, each an http(s) URL"
    )
    assert "data:image/png;base64" in ask.inputSchema["properties"]["images"]["description"]
    assert sorted(ground.inputSchema["required"]) == ["description", "image"]
    assert "in pixels" in ground.description and '"boxes"' in ground.description


def test_ask_sends_the_images_then_the_question_and_returns_the_answer_without_reasoning(url, engine):
    engine.enqueue("<think>Two red squares.</think>Both images are red.")
    first, second = _data_uri(40, 30), _data_uri(30, 40)
    result = _call(url, "ask", {"question": "What colour are they?", "images": [first, second]})
    assert not result.isError
    assert [item.text for item in result.content] == ["Both images are red."]
    content = engine.history[-1].messages[0]["content"]
    assert [part["type"] for part in content] == ["image_url", "image_url", "text"]
    assert content[0]["image_url"]["url"] == first and content[2]["text"] == "What colour are they?"
    engine.enqueue("Plain text is fine.")
    result = _call(url, "ask", {"question": "No picture.", "thinking": False})
    assert result.content[0].text == "Plain text is fine."
    assert engine.history[-1].enable_thinking is False


def test_ground_gives_boxes_and_points_in_pixels_of_the_image(url, engine):
    engine.enqueue(
        "<think>Find it.</think>The car is at <|begin_of_box|>[[100,200,300,400]]<|end_of_box|>, "
        "its light at <|begin_of_box|>[500,500]<|end_of_box|>."
    )
    result = _call(url, "ground", {"image": _data_uri(200, 100), "description": "the red car"})
    assert not result.isError
    found = json.loads(result.content[0].text)
    assert (found["width"], found["height"]) == (200, 100)
    assert [box["box"] for box in found["boxes"]] == [[20, 20, 60, 40]]
    assert [point["point"] for point in found["points"]] == [[100, 50]]
    assert "begin_of_box" not in found["answer"]
    assert "the red car" in engine.history[-1].messages[0]["content"][-1]["text"]


@pytest.mark.parametrize(
    ("tool", "arguments", "said"),
    [
        (
            "ask",
            {"question": "And this?", "images": ["file:///etc/passwd"]},
            "Reading local files is not allowed",
        ),
        ("ask", {"question": "And this?", "images": ["data:image/png;base64,aGVsbG8="]}, "image"),
        ("ground", {"image": _data_uri(20, 20), "description": "  "}, "The description is empty"),
        ("ask", {"question": "All?", "images": [_data_uri(8, 8)] * 17}, "17 images is over the limit of 16"),
    ],
    ids=["local-file", "not-an-image", "empty-description", "too-many-images"],
)
def test_a_refused_call_is_a_tool_error_with_glmvs_message_and_the_model_is_not_asked(
    url, engine, tool, arguments, said
):
    before = len(engine.history)
    result = _call(url, tool, arguments)
    assert result.isError
    message = result.content[0].text
    assert said in message and "verbose error reporting" not in message
    assert len(engine.history) == before
