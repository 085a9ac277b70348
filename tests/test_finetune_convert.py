"""``glmv.finetune.convert``: every source shape, every family, both targets — and the text training sees.

Each source table row holds the same conversation (one image, a question, reasoning and a boxed answer) in one
input shape; converting it must give the family's reply format, an ``<image>`` placeholder, the image copied into
the dataset folder, and — read back and rendered through the family's chat template — the exact training text
(FORMATS.md §4: prefix, turn tokens, media expanded to one ``<|image|>`` per 28 x 28 pixels).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from glmv.finetune import convert, convert_files, load_samples, render
from glmv.finetune.records import Record

FAMILIES = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v", "glm-4.6v-flash"]
BOX = "It is <|begin_of_box|>red<|end_of_box|>."
REPLY = {
    "glm-4.1v-thinking": f"<think>\nIt is red.\n</think>\n<answer>\n{BOX}\n</answer>",
    "glm-4.5v": f"<think>It is red.</think>\n{BOX}",
    "glm-4.6v": f"<think>It is red.</think>\n{BOX}",
    "glm-4.6v-flash": f"<think>It is red.</think>\n{BOX}",
}
IMAGE_TOKENS = 9  # 56 x 56 is resized to 84 x 84 (the minimum pixels, counted over two frames): 3 x 3 tokens


def _prompt(family: str) -> str:
    image = "<|begin_of_image|>" + "<|image|>" * IMAGE_TOKENS + "<|end_of_image|>"
    return f"[gMASK]<sop><|user|>\n{image}What colour?<|assistant|>\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    Image.new("RGB", (56, 56), (220, 30, 30)).save(root / "red.png")
    return root


def _user_parts() -> list[dict]:
    return [{"type": "image_url", "image_url": {"url": "red.png"}}, {"type": "text", "text": "What colour?"}]


SOURCES = {
    "openai-reasoning-content": {
        "messages": [
            {"role": "user", "content": _user_parts()},
            {"role": "assistant", "content": BOX, "reasoning_content": "It is red."},
        ]
    },
    "openai-raw-4.1v-reply": {
        "messages": [
            {"role": "user", "content": _user_parts()},
            {"role": "assistant", "content": REPLY["glm-4.1v-thinking"]},
        ]
    },
    "sharegpt-raw-4.5v-reply": {
        "conversations": [
            {"from": "human", "value": "<image>What colour?"},
            {"from": "gpt", "value": REPLY["glm-4.5v"]},
        ],
        "images": ["red.png"],
    },
    "llamafactory": {
        "messages": [
            {"role": "user", "content": "<image>What colour?"},
            {"role": "assistant", "content": REPLY["glm-4.1v-thinking"]},
        ],
        "images": ["red.png"],
        "system": "",
        "tools": "",
    },
    "swift": {
        "messages": [
            {"role": "user", "content": "<image>What colour?"},
            {"role": "assistant", "content": "<think>It is red.</think>"},
            {"role": "assistant", "content": BOX},
        ],
        "images": ["red.png"],
    },
    "glmv-conversation-save": {
        "format": "glmv.conversation",
        "version": 1,
        "family": "glm-4.6v-flash",
        "system": None,
        "settings": {},
        "messages": [
            {"role": "user", "content": _user_parts()},
            {"role": "assistant", "content": BOX, "reasoning_content": "It is red."},
        ],
    },
    "agent-step": {
        "step": 3,
        "prompt": [{"role": "user", "content": _user_parts()}],
        "reply": {"content": BOX, "reasoning_content": "It is red."},
    },
    "eval-result": {
        "prompt": "<image>What colour?",
        "images": ["red.png"],
        "response": REPLY["glm-4.5v"],
        "passed": True,
    },
}
SHAPE = {
    "openai-reasoning-content": "openai",
    "openai-raw-4.1v-reply": "openai",
    "sharegpt-raw-4.5v-reply": "sharegpt",
    "llamafactory": "llamafactory",
    "swift": "placeholder",  # without tool roles an ms-swift record is any <image>-placeholder record
    "glmv-conversation-save": "conversation",
    "agent-step": "agent",
    "eval-result": "eval",
}


def _write(folder: Path, name: str, record: dict) -> Path:
    if record.get("format") == "glmv.conversation":
        path = folder / f"{name}.json"
        path.write_text(json.dumps(record), encoding="utf-8")
    else:
        path = folder / f"{name}.jsonl"
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_becomes_the_family_reply_format_and_the_training_text(folder, tmp_path, source, family):
    path = _write(folder, source, SOURCES[source])
    (sample,) = load_samples([path])
    assert sample.source == SHAPE[source]
    for target in ("llamafactory", "swift"):
        result = convert_files([path], tmp_path / target, family, target)
        assert not result.problems, result.problems
        (record,) = [json.loads(line) for line in (tmp_path / target / "data.jsonl").read_text().splitlines()]
        user, reply = record["messages"][0], record["messages"][-1]
        assert user == {"role": "user", "content": "<image>What colour?"}
        assert reply == {"role": "assistant", "content": REPLY[family]}
        (image,) = record["images"]
        assert image.startswith("media/") and (tmp_path / target / image).is_file()
        (again,) = load_samples([tmp_path / target])
        rendered = render(again, family)
        assert rendered.text == _prompt(family) + REPLY[family] + "<|endoftext|>"
        assert "".join(s.text for s in rendered.segments if s.trained) == REPLY[family] + "<|endoftext|>"


HISTORY = {
    "messages": [
        {"role": "user", "content": "Colour of the sky?"},
        {"role": "assistant", "content": "<think>Daytime.</think>Blue."},
        {"role": "user", "content": "And at night?"},
        {"role": "assistant", "content": "Black.", "reasoning_content": "No sun."},
    ]
}
HISTORY_TEXT = {
    "glm-4.1v-thinking": (
        "[gMASK]<sop><|user|>\nColour of the sky?<|assistant|>\n<think></think>\n<answer>\nBlue.\n</answer>"
        "<|user|>\nAnd at night?<|assistant|>\n<think>\nNo sun.\n</think>\n<answer>\nBlack.\n</answer><|endoftext|>"
    ),
    "glm-4.5v": (
        "[gMASK]<sop><|user|>\nColour of the sky?<|assistant|>\n<think></think>\nBlue."
        "<|user|>\nAnd at night?<|assistant|>\n<think>No sun.</think>\nBlack.<|endoftext|>"
    ),
}


@pytest.mark.parametrize("family", list(HISTORY_TEXT))
def test_reasoning_is_removed_from_earlier_turns(family):
    result = convert([HISTORY], family, "swift")
    first, second = [m["content"] for m in result.records[0]["messages"] if m["role"] == "assistant"]
    assert "Daytime" not in first and "No sun." in second
    assert render(result.samples[0], family).text == HISTORY_TEXT[family]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_LOOP = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "need the tool",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        {"role": "assistant", "content": "It is sunny.", "reasoning_content": "tool says sunny"},
    ],
    "tools": [WEATHER],
}
TOOL_MESSAGES = {
    "llamafactory": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "function_call",
            "content": '<think>\nneed the tool\n</think>\n\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        },
        {"role": "observation", "content": "<tool_response>\nsunny, 21C\n</tool_response>"},
        {"role": "assistant", "content": "<think>tool says sunny</think>\nIt is sunny."},
    ],
    "swift": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "<think>need the tool</think>"},
        {"role": "tool_call", "content": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
        {"role": "tool_response", "content": "sunny, 21C"},
        {"role": "assistant", "content": "<think>tool says sunny</think>\nIt is sunny."},
    ],
}
TOOL_TAIL = (
    "<|user|>\nWeather in Paris?<|assistant|>\n<think>need the tool</think>\n<tool_call>get_weather\n"
    "<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call><|observation|>\n<tool_response>\n"
    "sunny, 21C\n</tool_response>{quirk}<|assistant|>\n<think>tool says sunny</think>\nIt is sunny.<|endoftext|>"
)


@pytest.mark.parametrize("family", ["glm-4.5v", "glm-4.6v"])
@pytest.mark.parametrize("target", ["llamafactory", "swift"])
def test_tool_calls_and_results_in_each_framework_format(tmp_path, target, family):
    result = convert([TOOL_LOOP], family, target)
    (record,) = result.records
    assert record["messages"] == TOOL_MESSAGES[target]
    assert json.loads(record["tools"]) == [WEATHER]
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (again,) = load_samples([path])
    text = render(again, family).text
    assert text.startswith("[gMASK]<sop><|system|>\n# Tools\n")
    quirk = "\n" if family == "glm-4.6v" else ""  # FORMATS.md §4.3: 4.6V adds a newline after a string result
    assert text.endswith(TOOL_TAIL.format(quirk=quirk))


INLINE_CALL = (
    "<think>need the tool</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
    "</tool_call>"
)


@pytest.mark.parametrize(
    ("target", "result_role"), [("llamafactory", "observation"), ("swift", "tool_response")]
)
def test_inline_tool_calls_are_the_official_glm_text(tmp_path, target, result_role):
    result = convert([TOOL_LOOP], "glm-4.5v", target, tool_calls="inline")
    (record,) = result.records
    assert record["messages"][1] == {"role": "assistant", "content": INLINE_CALL}
    assert record["messages"][2]["role"] == result_role
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (again,) = load_samples([path])
    assert render(again, "glm-4.5v").text.endswith(TOOL_TAIL.format(quirk=""))


def test_tool_calls_on_a_family_without_tools_leave_the_sample_out():
    result = convert([TOOL_LOOP, HISTORY], "glm-4.1v-thinking", "llamafactory")
    assert len(result.records) == 1
    assert {p.code for p in result.problems if p.fatal} == {"tools"}


def test_a_dataset_info_json_names_the_columns_llamafactory_reads(folder, tmp_path):
    path = _write(folder, "dataset-info", SOURCES["llamafactory"])
    convert_files([path], tmp_path / "out", "glm-4.5v", "llamafactory")
    info = json.loads((tmp_path / "out" / "dataset_info.json").read_text())
    entry = info["glmv_data"]
    assert entry["file_name"] == "data.jsonl" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {
        "messages": "messages",
        "system": "system",
        "tools": "tools",
        "images": "images",
        "videos": "videos",
    }
    assert (
        entry["tags"]["function_tag"] == "function_call" and entry["tags"]["observation_tag"] == "observation"
    )
    assert not (tmp_path / "swift-has-none").exists()


def test_llamafactory_roles_alternate_as_its_sharegpt_reader_demands():
    """LLaMA-Factory's SharegptDatasetConverter drops a sample whose roles do not alternate user-like /
    assistant-like, starting with a user, ending with an assistant (even count)."""
    loop = {**TOOL_LOOP, "messages": [*TOOL_LOOP["messages"], {"role": "tool", "content": "x"}]}
    two_results = {
        **TOOL_LOOP,
        "messages": [
            *TOOL_LOOP["messages"][:3],
            {"role": "tool", "content": "windy"},
            TOOL_LOOP["messages"][3],
        ],
    }
    result = convert([TOOL_LOOP, two_results, loop], "glm-4.5v", "llamafactory")
    assert len(result.records) == 2  # the one ending in a tool result has nothing to train on
    for record in result.records:
        roles = [m["role"] for m in record["messages"]]
        assert all(r in ("user", "observation") for r in roles[0::2])
        assert all(r in ("assistant", "function_call") for r in roles[1::2])
        assert len(roles) % 2 == 0
    assert result.records[1]["messages"][2]["content"] == (
        "<tool_response>\nsunny, 21C\n</tool_response>\n<tool_response>\nwindy\n</tool_response>"
    )


def test_bad_input_is_reported_with_file_and_line_and_the_rest_converted(folder, tmp_path):
    good = json.dumps(SOURCES["llamafactory"])
    missing = json.dumps({**SOURCES["llamafactory"], "images": ["gone.png"]})
    counts = json.dumps({**SOURCES["llamafactory"], "images": ["red.png", "red.png"]})
    lines = [good, "{not json", json.dumps({"question": "?"}), missing, counts, good]
    path = folder / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = convert_files([path], tmp_path / "out", "glm-4.5v", "swift")
    found = {(p.where, p.code) for p in result.problems}
    assert found == {
        (f"{path}:2", "broken-json"),
        (f"{path}:3", "unknown-shape"),
        (f"{path}:4", "missing-media"),
        (f"{path}:5", "placeholder-count"),
    }
    assert len((tmp_path / "out" / "data.jsonl").read_text().splitlines()) == 2

    stopped = convert_files([path], tmp_path / "strict", "glm-4.5v", "swift", strict=True)
    assert stopped.stopped and [p.where for p in stopped.problems] == [f"{path}:2"]
    assert not (tmp_path / "strict").exists()


def test_nothing_is_written_over_the_input(folder):
    path = _write(folder, "keep", SOURCES["llamafactory"])
    before = path.read_bytes()
    from glmv.errors import ConfigError

    for output in (folder, folder / "inside"):
        with pytest.raises(ConfigError, match="apart from the inputs"):
            convert_files([folder], output, "glm-4.5v", "llamafactory")
    with pytest.raises(ConfigError, match="apart from the inputs"):
        convert_files([path], folder, "glm-4.5v", "llamafactory")
    assert path.read_bytes() == before


def test_passed_only_keeps_the_passing_eval_results(folder):
    records = [
        {**SOURCES["eval-result"], "passed": passed, "id": f"q{n}"} for n, passed in enumerate([True, False])
    ]
    path = folder / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [s.id for s in load_samples([path], passed_only=True)] == ["q0"]
    assert [s.id for s in load_samples([path])] == ["q0", "q1"]


def test_data_uri_media_are_written_out_as_files(tmp_path):
    import base64
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (56, 56), (220, 30, 30)).save(buffer, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    record = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]},
            {"role": "assistant", "content": "Red."},
        ]
    }
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(record) + "\n")
    convert_files([source], tmp_path / "out", "glm-4.5v", "llamafactory")
    (line,) = (tmp_path / "out" / "data.jsonl").read_text().splitlines()
    (image,) = json.loads(line)["images"]
    assert Image.open(tmp_path / "out" / image).size == (56, 56)


def test_library_records_need_no_files():
    record = Record(SOURCES["openai-reasoning-content"], "mine:1", Path("/nowhere"))
    result = convert([record], "glm-4.5v", "swift")
    assert {p.code for p in result.problems} == {"missing-media"}


def test_a_recorded_agent_run_gives_one_sample_per_step(tmp_path):
    """A folder written by glmv.agent's own Recorder: one sample per successful step, the prompt as the agent
    built it (the step's screenshot by file name), the raw reply as the trained action."""
    from glmv.agent.record import Recorder

    recorder = Recorder(tmp_path / "run")
    recorder.start({"task": "open settings", "platform": "mobile", "family": "glm-4.5v"})
    screen = Image.new("RGB", (112, 224), (200, 200, 200))
    for number, (raw, error) in enumerate(
        [("Tap settings.\nclick(box=[[500,400,560,450]])", None), ("", "no action")], 1
    ):
        prompt = [
            {"role": "system", "content": "You are a phone agent."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Task: open settings"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
        ]
        record = {"step": number, "raw": raw, "reasoning": "The gear icon is settings.", "error": error}
        recorder.step(record, screen, prompt)
    recorder.finish({"status": "done", "steps": 2}, screen)

    (sample,) = load_samples([tmp_path / "run"])
    assert sample.source == "agent"
    assert sample.media() == [("image", str(tmp_path / "run" / "screenshots" / "step-001.png"))]
    result = convert([sample], "glm-4.5v", "swift")
    (record,) = result.records
    assert record["messages"][-1]["content"] == (
        "<think>The gear icon is settings.</think>\nTap settings.\nclick(box=[[500,400,560,450]])"
    )
    assert record["messages"][1]["content"] == "Task: open settings<image>"


def test_eval_results_with_passed_only(tmp_path):
    """A results.jsonl written by glmv.eval's own ResultsFile: --passed-only keeps the items that scored."""
    from glmv.eval.results import ItemResult, ResultsFile

    results = ResultsFile(tmp_path / "results.jsonl", resume=False)
    for number, score in enumerate([1.0, 0.0]):
        results.append(
            ItemResult(
                id=f"q{number}",
                group="math",
                category=None,
                score=score,
                prompt="1+1?",
                raw=f"<think>Add.</think><|begin_of_box|>{2 + number}<|end_of_box|>",
            )
        )
    results.close()
    (passed,) = load_samples([tmp_path / "results.jsonl"], passed_only=True)
    assert passed.id == "q0" and passed.source == "eval"
    (record,) = convert([passed], "glm-4.1v-thinking", "llamafactory").records
    assert record["messages"] == [
        {"role": "user", "content": "1+1?"},
        {
            "role": "assistant",
            "content": "<think>\nAdd.\n</think>\n<answer>\n<|begin_of_box|>2<|end_of_box|>\n</answer>",
        },
    ]
