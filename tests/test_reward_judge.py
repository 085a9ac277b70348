"""The LLM judge through glmv engines: a scripted engine (the fake in the package), and a live scripted
OpenAI-compatible server on 127.0.0.1 reached over real HTTP by the remote engine."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from glmv.engine import register_engine
from glmv.engine.scripted import ScriptedEngine
from glmv.reward import RewardSystem, get_verifier
from glmv.reward.judge import (
    Endpoint,
    EngineTransport,
    JudgeCallError,
    JudgeClient,
    JudgeParams,
    parse_chemistry,
    parse_general,
    parse_geoquest,
    parse_last,
    parse_substring,
)

T = "<think>Let me check.</think><answer><|begin_of_box|>{}<|end_of_box|></answer>"
TEMPLATE = "Question: {question}\nResponse: {predict}\nGround Truth: {label}\nRespond with only 1.0 or 0.0."
# What each scripted model answers; "slow" sleeps past the client timeout first.
REPLIES = {
    "yes": "1.0",
    "no": "0.0",
    "think-yes": "<think>The two agree, not 0.0.</think>1.0",
    "boxed": "<|begin_of_box|>Correct<|end_of_box|>",
    "geo": '{"analysis": "city right", "score": 0.75}',
    "garbage": "I cannot say.",
    "slow": "1.0",
}


class _Handler(BaseHTTPRequestHandler):
    """An OpenAI-compatible server in the shape vLLM and ``glmv serve`` answer: ``GET /v1/models``, and chat
    completions whole or streamed (SSE), the reasoning in ``reasoning_content``, box markers kept."""

    requests: ClassVar[list[dict]] = []

    def do_GET(self) -> None:
        models = [{"id": name, "object": "model", "owned_by": "vllm"} for name in REPLIES]
        self._send(json.dumps({"object": "list", "data": models}).encode(), "application/json")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if body["model"] == "slow":
            time.sleep(1.5)
        text = REPLIES[body["model"]]
        reasoning, _, content = text.rpartition("</think>")
        reasoning = reasoning.removeprefix("<think>")
        if body.get("stream"):
            self._stream(body["model"], reasoning, content)
            return
        message = {"role": "assistant", "content": content, "reasoning_content": reasoning or None}
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        self._send(json.dumps(reply).encode(), "application/json")

    def _stream(self, model: str, reasoning: str, content: str) -> None:
        def event(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
            choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": model, "choices": choices}
            return "data: " + json.dumps({**chunk, "usage": usage}) + "\n\n"

        middle = len(content) // 2
        events = [event({"role": "assistant", "reasoning_content": reasoning})] if reasoning else []
        events += [event({"content": content[:middle]}), event({"content": content[middle:]})]
        events += [event({}, "stop"), event({}, usage={"prompt_tokens": 1, "completion_tokens": 2})]
        self._send(("".join(events) + "data: [DONE]\n\n").encode(), "text/event-stream")

    def _send(self, data: bytes, kind: str) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _system(url: str, models: list[str], *, timeout: float = 5.0) -> RewardSystem:
    config = {
        "datasource_reward_config_mapping": {"d": "c"},
        "reward_configs": {
            "c": {
                "verifier_type": "vqa",
                "llm_api_key": ["sk-test"] * len(models),
                "llm_judge_url": [url + "/chat/completions"] * len(models),
                "llm_model": models,
                "llm_judge_prompt_template": TEMPLATE,
            }
        },
        "judge_timeout": timeout,
        "judge_retries": 0,
    }
    return RewardSystem(config)


def _item(answer: str, truth: str) -> dict:
    return {
        "prompt": "What is written?",
        "answer": T.format(answer),
        "gt_answer": T.format(truth),
        "datasource": "d",
    }


def test_majority_vote_two_of_three_say_yes(server):
    _Handler.requests.clear()
    with _system(server, ["yes", "no", "yes"]) as system:
        (result,) = system.score([_item("Stop", "stop")])
    assert result.reward == 1.0
    assert result.judge_calls == 3 and result.error is None
    assert "1, 0, 1" in result.reason
    sent = [r for r in _Handler.requests if r["model"] in ("yes", "no")]
    assert len(sent) == 3
    assert sent[0]["max_completion_tokens"] == 10 and sent[0]["temperature"] == 0.1
    assert sent[0]["path"] == "/v1/chat/completions" and sent[0]["auth"] == "Bearer sk-test"
    prompt = sent[0]["messages"][0]["content"]
    assert (
        "Response: Stop" in prompt
        and "Ground Truth: stop" in prompt
        and "Question: What is written?" in prompt
    )


def test_majority_vote_two_of_three_say_no(server):
    with _system(server, ["no", "yes", "no"]) as system:
        assert system.get_reward("q", T.format("Wii"), T.format("doesnotapply"), datasources="d") == [0.0]


def test_rule_decided_items_never_call_the_judge(server):
    _Handler.requests.clear()
    with _system(server, ["yes"]) as system:
        (result,) = system.score([_item("EXIT", "EXIT")])
    assert result.reward == 1.0 and result.judge_calls == 0
    assert _Handler.requests == []


def test_a_judge_that_times_out_is_counted_and_reported(server):
    with _system(server, ["slow"], timeout=0.5) as system:
        start = time.monotonic()
        (result,) = system.score([_item("Stop", "Go")])
        elapsed = time.monotonic() - start
        stats = system.stats["d"]
        assert result.reward == 0.0
        assert result.timed_out and result.error is not None and "timed out" in result.error
        assert stats.errors == 1 and stats.timeouts == 1
        assert system.services.judge.stats.timeouts == 1
    assert elapsed < 1.4  # the client gave up at 0.5 s, before the server's 1.5 s reply


def test_one_timed_out_judge_does_not_count_as_a_no_vote(server):
    with _system(server, ["slow", "yes", "yes"], timeout=0.5) as system:
        (result,) = system.score([_item("Stop", "stop")])
    assert result.reward == 1.0
    assert result.timed_out and "timed out" in (result.error or "")


def test_unreadable_replies_are_errors_not_zeros(server):
    with _system(server, ["garbage"]) as system:
        (result,) = system.score([_item("Stop", "Go")])
    assert result.reward == 0.0 and result.error is not None and "unreadable" in result.error


def test_judge_replies_are_cached(server):
    _Handler.requests.clear()
    with _system(server, ["yes"]) as system:
        system.get_reward("q", T.format("A"), T.format("a"), datasources="d")
        system.get_reward("q2", T.format("B"), T.format("b"), datasources="d")
        system.get_reward("q2", T.format("B"), T.format("b"), datasources="d")
    assert len(_Handler.requests) == 2


def test_thinking_judge_reply_is_read_after_its_reasoning(server):
    with _system(server, ["think-yes"]) as system:
        assert system.get_reward("q", T.format("A"), T.format("a"), datasources="d") == [1.0]


def test_general_verifier_reads_boxed_correct(server):
    extra = {"answer_extraction_regex": "^<think>(.*?)</think>(?P<answer>.*)$"}
    config = {
        "datasource_reward_config_mapping": {"d": "c"},
        "reward_configs": {
            "c": {
                "verifier_type": "general",
                "llm_api_key": "k",
                "llm_judge_url": server,
                "llm_model": "boxed",
                "llm_judge_prompt_template": TEMPLATE,
                **extra,
            }
        },
    }
    with RewardSystem(config) as system:
        (result,) = system.score([_item("Paris, France", "Paris")])
    assert result.reward == 1.0
    assert result.extracted_answer == "Paris, France" and result.extracted_ground_truth == "Paris"


def test_geoquest_partial_credit_from_json_score(server):
    template = "Place: {place_name}\nAddress: {address}\nGuess: {predict}"
    config = {
        "datasource_reward_config_mapping": {"geoguess": "g"},
        "reward_configs": {
            "g": {
                "verifier_type": "geoquest",
                "llm_api_key": ["k"],
                "llm_judge_url": [server],
                "llm_model": ["geo"],
                "llm_judge_prompt_template": template,
            }
        },
    }
    truth = json.dumps({"place_name": "Summer Palace", "address": "Haidian, Beijing"})
    with RewardSystem(config) as system:
        results = system.score(
            [
                {"answer": T.format("北京的北海公园"), "gt_answer": truth, "datasource": "geoguess"},
                {"answer": T.format("x" * 60), "gt_answer": truth, "datasource": "geoguess"},
            ]
        )
    assert results[0].reward == 0.75 and results[0].error is None
    assert results[1].reward == 0.0 and results[1].judge_calls == 0


def test_counting_uses_its_single_judge_for_number_words(server):
    verifier = get_verifier(
        "counting", llm_api_key="k", llm_judge_url=server, llm_model="yes", llm_judge_prompt_template=TEMPLATE
    )
    assert verifier.judge("十只猫", "10", question="How many cats?", image_file="cats.jpg") == 1.0


@pytest.mark.parametrize(
    ("parser", "reply", "expected"),
    [
        (parse_substring, "1.0", 1.0),
        (parse_substring, "Score: 0.0", 0.0),
        (parse_substring, "0.5", 0.5),
        (parse_substring, "yes", None),
        (parse_last, "Not 1.0 but 0.0", 0.0),
        (parse_last, "First 0.0, finally 1.0", 1.0),
        (parse_chemistry, "The answer is 1", 1.0),
        (parse_chemistry, "1.0 ... actually 0", 0.0),
        (parse_general, "\\boxed{Incorrect}", 0.0),
        (parse_general, "<|begin_of_box|>Correct<|end_of_box|>", 1.0),
        (parse_general, "1.0", 1.0),
        (parse_geoquest, '<think>hmm</think>{"analysis": "a", "score": 0.25}', 0.25),
        (parse_geoquest, 'broken {"score": 0.8, ', 1.0),
        (parse_geoquest, 'broken "score": 0.5', 0.0),
    ],
)
def test_reply_parsers(parser, reply, expected):
    assert parser(reply) == expected


def test_client_retries_with_backoff_then_reports():
    calls = []

    class Flaky:
        def complete(self, endpoint, prompt, params, timeout):
            calls.append(time.monotonic())
            if len(calls) < 3:
                raise ConnectionError("refused")
            return "1.0"

    client = JudgeClient(Flaky(), retries=2, backoff=0.05)
    assert client.complete(Endpoint("u", "k", "m"), "p", JudgeParams()) == "1.0"
    assert len(calls) == 3 and calls[2] - calls[1] >= 0.09  # 0.05 then 0.1 s


# --- through a scripted engine ------------------------------------------------------------------------------


def _scripted_system(engines: dict, *, verifier: str = "vqa", timeout: float = 5.0, **extra) -> RewardSystem:
    """A reward system whose judges are ``engines`` (URL → engine); one judge is configured with plain strings."""
    urls = list(engines)
    judges = {"llm_api_key": [""] * len(urls), "llm_judge_url": urls, "llm_model": ["judge"] * len(urls)}
    if len(urls) == 1:
        judges = {key: value[0] for key, value in judges.items()}
    config = {
        "datasource_reward_config_mapping": {"d": "c"},
        "reward_configs": {
            "c": {"verifier_type": verifier, **judges, "llm_judge_prompt_template": TEMPLATE, **extra}
        },
        "judge_timeout": timeout,
        "judge_retries": 0,
    }
    return RewardSystem(config, judge_transport=EngineTransport(engines))


def test_scripted_judges_vote_with_their_answers_not_their_reasoning():
    engines = {
        "a": ScriptedEngine(["1.0"]),
        "b": ScriptedEngine(["<think>Is it 1.0? No: the words differ.</think>0.0"]),
        "c": ScriptedEngine(["<think>It looks like 0.0 at first, but they agree.</think>1.0"]),
    }
    with _scripted_system(engines, llm_max_tokens=64) as system:
        (result,) = system.score([_item("Stop", "stop")])
        stats = system.services.judge.stats
    assert result.reward == 1.0 and result.judge_calls == 3 and result.error is None
    assert "1, 0, 1" in result.reason
    assert stats.calls == 3 and stats.errors == 0
    (request,) = engines["a"].history
    assert request.messages == [
        {
            "role": "user",
            "content": TEMPLATE.format(question="What is written?", predict="Stop", label="stop"),
        }
    ]
    assert (request.max_tokens, request.temperature, request.top_p) == (64, 0.1, 1.0)


def test_scripted_judge_box_markers_reach_the_general_parser():
    engine = ScriptedEngine(["<think>Same city.</think><|begin_of_box|>Correct<|end_of_box|>"])
    extra = {"answer_extraction_regex": "^<think>(.*?)</think>(?P<answer>.*)$"}
    with _scripted_system({"judge": engine}, verifier="general", llm_max_tokens=64, **extra) as system:
        (result,) = system.score([_item("Paris, France", "Paris")])
    assert result.reward == 1.0 and result.judge_calls == 1


def test_scripted_judge_without_a_reply_fails_closed():
    with _scripted_system({"judge": ScriptedEngine()}) as system:
        (result,) = system.score([_item("Stop", "Go")])
        stats = system.services.judge.stats
    assert result.reward == 0.0 and not result.timed_out
    assert "no reply left" in (result.error or "")
    assert stats.calls == 1 and stats.errors == 1 and stats.timeouts == 0


def test_slow_scripted_judge_times_out_without_waiting_for_it():
    engine = ScriptedEngine(["1.0"], delay=1.0)  # 1 s before each of its tokens
    with _scripted_system({"judge": engine}, timeout=0.2) as system:
        start = time.monotonic()
        (result,) = system.score([_item("Stop", "stop")])
        elapsed = time.monotonic() - start
        stats = system.services.judge.stats
    assert result.reward == 0.0 and result.timed_out and "timed out after 0.2 s" in (result.error or "")
    assert stats.timeouts == 1 and elapsed < 0.9


def test_thinking_judge_cut_off_by_max_tokens_is_an_error_not_a_vote():
    engine = ScriptedEngine(["<think>" + "Let me compare the two answers carefully. " * 5 + "</think>1.0"])
    with _scripted_system({"judge": engine}) as system:
        (result,) = system.score([_item("Stop", "Go")])
    assert result.reward == 0.0
    assert "max_tokens=10 before it answered" in (result.error or "")


def test_the_judge_can_switch_its_thinking_off():
    engine = ScriptedEngine(["1.0"])
    transport = EngineTransport({"judge": engine})
    endpoint = Endpoint("judge", "", "judge")
    assert transport.complete(endpoint, "Same? 1.0 or 0.0", JudgeParams(enable_thinking=False), 5.0) == "1.0"
    assert engine.history[0].enable_thinking is False


class _ClosingEngine(ScriptedEngine):
    opened: ClassVar[list[_ClosingEngine]] = []

    def __init__(self) -> None:
        super().__init__(default="1.0", delay=0.01)
        self.closed = False
        type(self).opened.append(self)

    def close(self) -> None:
        self.closed = True


register_engine("judge-test:", lambda spec, **options: _ClosingEngine())


def test_an_endpoint_engine_is_opened_once_shared_and_closed_with_the_client():
    _ClosingEngine.opened.clear()
    client = JudgeClient(EngineTransport(), timeout=5.0, retries=0, cache_size=0)
    endpoint = Endpoint("judge-test:a", "", "judge")
    replies = []
    threads = [
        threading.Thread(target=lambda i=i: replies.append(client.complete(endpoint, f"p{i}", JudgeParams())))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == ["1.0"] * 6
    (engine,) = _ClosingEngine.opened
    assert len(engine.history) == 6 and not engine.closed
    client.close()
    assert engine.closed
    with pytest.raises(JudgeCallError, match="closed"):
        client.complete(endpoint, "again", JudgeParams())


def test_engines_given_to_the_transport_stay_open():
    engine = _ClosingEngine()
    client = JudgeClient(EngineTransport({"mine": engine}), retries=0)
    assert client.complete(Endpoint("mine", "", "judge"), "p", JudgeParams()) == "1.0"
    client.close()
    assert not engine.closed
