"""The LLM judge against a live scripted OpenAI-compatible server on 127.0.0.1 (real HTTP, the openai SDK)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from glmv.reward import RewardSystem, get_verifier
from glmv.reward.judge import (
    JudgeClient,
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
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if body["model"] == "slow":
            time.sleep(1.5)
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLIES[body["model"]]},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(reply).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
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


def _system(url: str, models: list[str], *, verifier: str = "vqa", extra: dict | None = None) -> RewardSystem:
    config = {
        "datasource_reward_config_mapping": {"d": "c"},
        "reward_configs": {
            "c": {
                "verifier_type": verifier,
                "llm_api_key": ["sk-test"] * len(models),
                "llm_judge_url": [url + "/chat/completions"] * len(models),
                "llm_model": models,
                "llm_judge_prompt_template": TEMPLATE,
                **(extra or {}),
            }
        },
        "judge_timeout": 0.5,
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
    with _system(server, ["slow"]) as system:
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
    with _system(server, ["slow", "yes", "yes"]) as system:
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

    from glmv.reward.judge import Endpoint, JudgeParams

    client = JudgeClient(Flaky(), retries=2, backoff=0.05)
    assert client.complete(Endpoint("u", "k", "m"), "p", JudgeParams()) == "1.0"
    assert len(calls) == 3 and calls[2] - calls[1] >= 0.09  # 0.05 then 0.1 s
