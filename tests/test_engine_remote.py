"""RemoteEngine against recorded vLLM / SGLang / Z.ai responses served on 127.0.0.1, and a live glmv serve."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from glmv.engine.open import open_engine
from glmv.engine.remote import RemoteEngine
from glmv.engine.scripted import ScriptedEngine
from glmv.engine.types import ChatRequest, collect
from glmv.errors import EngineBusyError, RequestError
from glmv.output import parse_reply
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer
from glmv.testing import WEATHER_TOOL

DATA = Path(__file__).parent / "data" / "remote"


class ScriptedHTTP:
    """A tiny OpenAI-shaped server on 127.0.0.1 that answers with recorded bodies, in order, and keeps requests."""

    def __init__(self, owned_by: str = "vllm", model: str = "glm-4.6v") -> None:
        self.requests: list[dict] = []
        self.replies: list[tuple[int, str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", "7")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                models = {"object": "list", "data": [{"id": model, "object": "model", "owned_by": owned_by}]}
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                self._send(200, "application/json", json.dumps(models).encode())

            def do_POST(self):
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, kind, data = outer.replies.pop(0)
                self._send(status, kind, data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply_with(self, *names: str) -> ScriptedHTTP:
        for name in names:
            kind = "text/event-stream" if name.endswith(".sse") else "application/json"
            self.replies.append((200, kind, (DATA / name).read_bytes()))
        return self

    def posted(self) -> list[dict]:
        return [r["body"] for r in self.requests if "body" in r]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_factory():
    servers = []

    def make(**kwargs) -> ScriptedHTTP:
        servers.append(ScriptedHTTP(**kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _ask(text: str = "Where is the cat?", **fields) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **fields)


def test_vllm_non_streaming_reasoning_field_and_boxes(http_factory):
    http = http_factory(owned_by="vllm").reply_with("vllm_chat.json")
    engine = RemoteEngine(http.base_url, api_key="sk-1")
    reply = engine.chat(_ask(enable_thinking=True, max_tokens=100))
    assert reply.reasoning == "The user asks where the cat is. It sits on the left."
    assert reply.content == "The cat is at [[112,208,486,731]]."
    assert [b.as_list() for b in reply.boxes] == [[112, 208, 486, 731]]
    assert reply.finish_reason == "stop" and reply.usage.prompt_tokens == 1289
    assert engine.flavor == "vllm" and engine.model == "glm-4.6v"
    (body,) = http.posted()
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["skip_special_tokens"] is False and body["max_completion_tokens"] == 100
    assert all(r["headers"].get("Authorization") == "Bearer sk-1" for r in http.requests)


def test_vllm_tool_call_non_streaming(http_factory):
    http = http_factory(owned_by="vllm").reply_with("vllm_tool_chat.json")
    reply = RemoteEngine(http.base_url, model="glm-4.6v").chat(_ask("Weather?", tools=[WEATHER_TOOL]))
    assert reply.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": 3})
    ]
    assert http.posted()[0]["tools"] == [WEATHER_TOOL]


def test_box_markers_the_server_kept_stay_when_the_request_asks(http_factory):
    http = http_factory(owned_by="vllm").reply_with("vllm_chat.json", "vllm_stream.sse")
    engine = RemoteEngine(http.base_url)
    reply = engine.chat(_ask(keep_box_markers=True))
    assert reply.content == "The cat is at <|begin_of_box|>[[112,208,486,731]]<|end_of_box|>."
    assert [b.as_list() for b in reply.boxes] == [[112, 208, 486, 731]]
    chunks = list(engine.generate(_ask(keep_box_markers=True)))
    assert "".join(c.content for c in chunks) == "It says <|begin_of_box|>STOP<|end_of_box|>."


def test_glm41v_answer_tags_are_stripped(http_factory):
    http = http_factory(owned_by="vllm", model="glm-4.1v-thinking").reply_with("vllm_glm41v_chat.json")
    reply = RemoteEngine(http.base_url).chat(_ask("8+9?"))
    assert (reply.reasoning, reply.content, reply.answer) == ("8 plus 9 is 17.", "The total is 17.", "17")


def test_vllm_streaming(http_factory):
    http = http_factory(owned_by="vllm").reply_with("vllm_stream.sse")
    chunks = list(RemoteEngine(http.base_url).generate(_ask()))
    assert "".join(c.reasoning for c in chunks) == "Looking at the sign."
    assert "".join(c.content for c in chunks) == "It says STOP."
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage.completion_tokens == 14
    (reply,) = collect(chunks, family="glm-4.6v")
    assert reply.answer == "STOP"
    assert http.posted()[0]["stream_options"] == {"include_usage": True}


def test_sglang_non_streaming_reasoning_content(http_factory):
    http = http_factory(owned_by="sglang", model="glm-4.5v").reply_with("sglang_chat.json")
    engine = RemoteEngine(http.base_url)
    reply = engine.chat(_ask("How many apples?", enable_thinking=False))
    assert engine.flavor == "sglang"
    assert (reply.reasoning, reply.content, reply.answer) == (
        "Count: one, two, three.",
        "There are 3 apples.",
        "3",
    )
    assert http.posted()[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_sglang_streamed_tool_call(http_factory):
    http = http_factory(owned_by="sglang", model="glm-4.5v").reply_with("sglang_tool_stream.sse")
    chunks = list(RemoteEngine(http.base_url).generate(_ask("Weather?", tools=[WEATHER_TOOL])))
    assert "".join(c.reasoning for c in chunks) == "Need the weather first."
    fragments = [f for c in chunks for f in c.tool_calls]
    assert fragments[0].name == "get_weather"
    assert json.loads("".join(f.arguments for f in fragments)) == {"city": "Berlin"}
    assert chunks[-1].finish_reason == "tool_calls"
    (reply,) = collect(chunks, tools=[WEATHER_TOOL], family="glm-4.5v")
    assert reply.tool_calls[0].arguments == {"city": "Berlin"}
    assert reply.tool_calls[0].id == fragments[0].id == "call_0f9e8d7c6b5a4e3d2c1b0a9f"  # the server's own id
    assert all(not c.raw for c in chunks)  # the server sent it parsed: no GLM text is rebuilt


def test_two_pass_thinking_budget_on_sglang(http_factory):
    http = http_factory(owned_by="sglang", model="glm-4.5v")
    http.reply_with("sglang_budget_pass1.sse", "sglang_budget_pass2.sse")
    chunks = list(RemoteEngine(http.base_url).generate(_ask("Birds?", thinking_budget=8, max_tokens=100)))
    first, second = http.posted()
    assert first["max_completion_tokens"] == 8 and "continue_final_message" not in first
    assert second["continue_final_message"] is True and second["add_generation_prompt"] is False
    assert second["max_completion_tokens"] == 92  # the rest of max_tokens after 8 thinking tokens
    assert second["messages"][-1] == {
        "role": "assistant",
        "content": "<think>Let me count the birds one by</think>",
    }
    assert "".join(c.reasoning for c in chunks) == "Let me count the birds one by"
    assert "".join(c.content for c in chunks) == "There are 5 birds."
    last = chunks[-1]
    assert last.finish_reason == "stop" and (last.usage.prompt_tokens, last.usage.completion_tokens) == (
        700,
        20,
    )


def test_two_pass_for_glm41v_appends_answer_tag(http_factory):
    http = http_factory(owned_by="vllm", model="glm-4.1v-thinking")
    http.reply_with("sglang_budget_pass1.sse", "sglang_budget_pass2.sse")
    chunks = list(RemoteEngine(http.base_url).generate(_ask("Birds?", thinking_budget=8, max_tokens=50)))
    assert http.posted()[1]["messages"][-1]["content"].endswith("one by</think><answer>")
    (reply,) = collect(chunks, family="glm-4.1v-thinking")
    assert (reply.content, reply.answer) == ("There are 5 birds.", "5")


def test_zai_thinking_switch_and_no_budget(http_factory):
    http = http_factory(owned_by="zai").reply_with("zai_stream.sse")
    engine = RemoteEngine(http.base_url, model="glm-4.6v", flavor="zai")
    reply = collect(engine.generate(_ask("Sky?", enable_thinking=False)), family="glm-4.6v")[0]
    assert (reply.reasoning, reply.content) == ("The sky is blue.", "Blue")
    body = http.posted()[0]
    assert body["thinking"] == {"type": "disabled"} and "chat_template_kwargs" not in body
    assert "skip_special_tokens" not in body and body["max_tokens"] == 8192
    with pytest.raises(RequestError, match="thinking budget"):
        list(engine.generate(_ask(thinking_budget=10)))


def test_local_files_and_images_become_data_uris(http_factory, tmp_path):
    path = tmp_path / "cat.png"
    Image.new("RGB", (28, 28), "red").save(path)
    http = http_factory(owned_by="vllm").reply_with("vllm_chat.json", "vllm_chat.json")
    engine = RemoteEngine(http.base_url)
    for source in (str(path), f"file://{path}"):
        engine.chat(
            ChatRequest(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": source}},
                            {"type": "text", "text": "Where?"},
                        ],
                    }
                ]
            )
        )
    for body in http.posted():
        url = body["messages"][0]["content"][0]["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")


@pytest.mark.parametrize("special", ["fifo", "folder"])
def test_a_local_path_that_is_not_a_regular_file_is_refused_not_read(http_factory, tmp_path, special):
    path = tmp_path / "cat.png"
    if special == "fifo":
        os.mkfifo(path)  # reading it would block for ever
    else:
        path.mkdir()
    engine = RemoteEngine(http_factory(owned_by="vllm").base_url)
    part = {"type": "image_url", "image_url": {"url": str(path)}}
    with pytest.raises(RequestError, match="only regular files are read"):
        engine.chat(ChatRequest(messages=[{"role": "user", "content": [part]}]))


def test_server_errors_become_glmv_errors(http_factory):
    http = http_factory(owned_by="vllm")
    http.replies.append((429, "application/json", b'{"error": {"message": "queue full"}}'))
    http.replies.append((400, "application/json", b'{"error": {"message": "Unknown part type: file_url"}}'))
    engine = RemoteEngine(http.base_url)
    with pytest.raises(EngineBusyError) as busy:
        engine.chat(_ask())
    assert busy.value.retry_after == 7
    with pytest.raises(RequestError, match="file_url"):
        list(engine.generate(_ask()))


@pytest.fixture(scope="module")
def live():
    engine = ScriptedEngine(family="glm-4.6v")
    with BackgroundServer(engine, ServerSettings(model_name="glm-4.6v", api_key="k")) as server:
        yield engine, server


def test_against_a_live_glmv_serve(live):
    scripted, server = live
    remote = open_engine(server.base_url, api_key="k")
    assert isinstance(remote, RemoteEngine) and remote.flavor == "glmv"
    scripted.enqueue(
        "<think>Look left.</think>It is here <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>.",
        "<think>Tool time.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n"
        "</tool_call>",
    )
    reply = remote.chat(_ask(thinking_budget=64))
    assert (reply.reasoning, reply.content) == ("Look left.", "It is here [[1,2,3,4]].")
    assert scripted.history[-1].thinking_budget == 64  # glmv takes the budget natively
    chunks = list(remote.generate(_ask("Weather?", tools=[WEATHER_TOOL])))
    (call,) = collect(chunks, tools=[WEATHER_TOOL], family="glm-4.6v")[0].tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Oslo"})
    assert chunks[-1].finish_reason == "tool_calls"


GROUNDED = (
    "<think>Two cats.</think>The cats are at <|begin_of_box|>[[10,20,300,400],[500,520,990,1000]]<|end_of_box|> "
    "and the bowl at <|begin_of_box|>(640, 480)<|end_of_box|>."
)


def test_boxes_survive_a_glmv_serve_round_trip(live):
    """glmv → glmv: the remote asks for skip_special_tokens false, so the server keeps the markers for it."""
    scripted, server = live
    original = parse_reply(GROUNDED, family="glm-4.6v")
    assert len(original.boxes) == 2 and len(original.points) == 1
    remote = RemoteEngine(server.base_url, api_key="k")  # flavor auto: the server names itself glmv
    scripted.enqueue(GROUNDED)
    reply = remote.chat(_ask())
    assert (reply.boxes, reply.points, reply.answer) == (original.boxes, original.points, original.answer)
    assert (reply.reasoning, reply.content) == (original.reasoning, original.content)
    scripted.enqueue(GROUNDED)
    streamed = collect(remote.generate(_ask()), family="glm-4.6v")[0]
    assert (streamed.boxes, streamed.points, streamed.content) == (
        original.boxes,
        original.points,
        original.content,
    )


def test_glmv_flavor_asks_for_special_tokens(http_factory):
    http = http_factory(owned_by="glmv").reply_with("vllm_chat.json")
    engine = RemoteEngine(http.base_url)
    engine.chat(_ask())
    assert engine.flavor == "glmv" and http.posted()[0]["skip_special_tokens"] is False
