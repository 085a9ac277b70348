"""The agent prompts equal the official scripts' byte for byte (tests/data/agent/official_prompts.json holds what
zai-org/GLM-V ``gui_agent_41v.py`` / ``gui_agent_45v.py`` build for one fixed task, history and memory), and
:func:`build_messages` puts the screenshots where each layout wants them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from glmv.agent import HistoryStep, build_messages, read_reply
from glmv.agent.prompts import desktop_content, layout_of, mobile_prompt, web_prompt

OFFICIAL = json.loads(
    (Path(__file__).parent / "data" / "agent" / "official_prompts.json").read_text(encoding="utf-8")
)
NOW = datetime(2026, 1, 2, 15, 30)  # "2026-01-02, 03:00 PM", the time the official 4.5V web prompt was given


def _image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize("layout", ["41v", "45v"])
def test_mobile_prompt_is_the_official_one(layout):
    assert mobile_prompt(OFFICIAL["task"], OFFICIAL["mobile_history"], layout) == OFFICIAL[f"mobile-{layout}"]


def test_mobile_prompt_without_history_says_it_just_started():
    assert mobile_prompt(OFFICIAL["task"], [], "45v") == OFFICIAL["mobile-45v-empty"]


@pytest.mark.parametrize("layout", ["41v", "45v"])
def test_web_prompt_is_the_official_one_with_the_last_15_steps(layout):
    text = web_prompt(
        OFFICIAL["task"],
        OFFICIAL["url"],
        OFFICIAL["elements"],
        OFFICIAL["memory"],
        OFFICIAL["web_history"],
        layout,
        NOW,
    )
    assert text == OFFICIAL[f"web-{layout}"]
    assert "0.Thought: look 2\n" in text and "look 1\n" not in text  # 17 steps given, the first two dropped


def test_desktop_41v_prompt_is_the_official_one():
    images = [_image_part(url) for url in OFFICIAL["history_images"][:2]]
    content = desktop_content(
        OFFICIAL["task"], OFFICIAL["pc-41v-history"], ["", ""], OFFICIAL["memory"], images, "41v"
    )
    assert content[:2] == images
    assert content[2]["text"] == OFFICIAL["pc-41v"]


def test_desktop_45v_content_is_the_official_one_with_omitted_older_steps():
    parsed = OFFICIAL["pc-45v-parsed"]
    # the official scripts' bot_thought: the plain answer text with the action removed; glmv's reader gives the same
    readings = [read_reply(response, "desktop") for response in OFFICIAL["pc_responses"]]
    actions = [reading.action_text for reading in readings]
    thoughts = [reading.thought for reading in readings]
    assert actions == [item["action"] for item in parsed]
    assert thoughts == [item["action_text"].replace(item["action"], "").strip() for item in parsed]
    images = [_image_part(url) for url in OFFICIAL["history_images"]]
    content = desktop_content(OFFICIAL["task"], actions, thoughts, OFFICIAL["memory"], images, "45v")
    assert content == OFFICIAL["pc-45v"]
    assert "step 2: Screenshot:(Omitted in context.)" in content[0]["text"]


def test_layouts_follow_the_family():
    assert layout_of("glm-4.1v-thinking") == "41v"
    assert layout_of("glm-4.5v") == layout_of("glm-4.6v") == layout_of("glm-4.6v-flash") == "45v"


def test_build_messages_places_the_current_screenshot_per_layout():
    screen = Image.new("RGB", (64, 40), "white")
    history = [HistoryStep("t", f"left_click(start_box='[{i},1]')", "go", "[]", "", screen) for i in range(6)]
    for family, first_is_current in (("glm-4.1v-thinking", True), ("glm-4.5v", False)):
        [message] = build_messages("desktop", family, "task", screen, history)
        images = [part for part in message["content"] if part["type"] == "image_url"]
        assert len(images) == 5  # the current screenshot and the last 4 at half size
        full = max(images, key=lambda part: len(part["image_url"]["url"]))
        assert (message["content"][0] is full) == first_is_current
        assert (message["content"][-1] is full) == (not first_is_current)
    [message] = build_messages(
        "web", "glm-4.5v", "find it", screen, url="http://127.0.0.1/", elements='[0]: <a> "x";'
    )
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]
    assert "Please interact with http://127.0.0.1/ and get the answer" in message["content"][1]["text"]
