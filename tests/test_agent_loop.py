"""The agent loop on the dry-run executor with scripted GLM replies: actions reach the executor in pixels, history
reaches the next prompt, bad replies are retried once, coordinates are clamped, executor errors are observations,
the gates ask and a refusal skips, and a run records, reports, replays and scores."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from glmv.actions import Action
from glmv.agent import Agent, AgentSettings, Recorder, SafetyGate, load_trajectory, replay, score_trajectory
from glmv.agent.executors import DryRunExecutor, ExecutorError, Observation
from glmv.engine.scripted import ScriptedEngine

B, E = "<|begin_of_box|>", "<|end_of_box|>"


def pc(action: str, thought: str = "I act.", memory: str = "[]") -> str:
    """A GLM-4.5V desktop reply."""
    return f"<think>Looking at the screen.</think>{thought} {B}{action}{E}\nMemory:\n{memory}"


def pc41(action: str) -> str:
    """A GLM-4.1V desktop reply."""
    return f"<think>Looking.</think><answer>Clicking. {B}{action}{E}\nMemory:\n[]</answer>"


def _prompt_text(request) -> str:
    return "".join(part.get("text", "") for part in request.messages[-1]["content"] if part["type"] == "text")


def _run(replies, executor=None, family="glm-4.5v", **options):
    engine = ScriptedEngine(replies, family=family)
    executor = executor or DryRunExecutor("desktop", width=1000, height=500)
    agent = Agent(engine, executor, "Open the settings", **options)
    return agent.run(), engine, executor


@pytest.mark.parametrize(
    "family,reply", [("glm-4.5v", pc), ("glm-4.1v-thinking", pc41)], ids=["4.5v", "4.1v"]
)
def test_actions_reach_the_executor_in_pixels_and_history_the_next_prompt(family, reply):
    result, engine, executor = _run(
        [reply("left_click(start_box='[500,200]')"), reply("key(keys='ctrl+s')"), reply("DONE()")],
        family=family,
    )
    assert result.status == "finished" and result.steps == 3
    assert [a.kind for a in executor.actions] == ["click", "key"]
    assert executor.actions[0].point == (500.0, 100.0) and executor.actions[0].space == "pixels"
    assert executor.actions[1].keys == ("ctrl", "s")
    second = _prompt_text(engine.history[1])
    assert "left_click(start_box='[500,200]')" in second
    assert "step 1:" in second and "step 2:" not in second


def test_an_unreadable_reply_is_retried_once_with_the_error_in_the_prompt():
    result, engine, executor = _run(
        ["I will click somewhere nice.", pc("left_click(start_box='[10,10]')"), pc("DONE()")]
    )
    assert result.status == "finished"
    assert len(engine.history) == 3 and len(executor.actions) == 1
    assert "could not be read" in _prompt_text(engine.history[1])
    first = result.records[0]
    assert first["retry"]["raw"] == "I will click somewhere nice." and first["status"] == "acted"


def test_a_reply_unreadable_twice_fails_the_step_keeps_the_text_and_the_run_goes_on():
    result, engine, executor = _run(["no action here", "still none", pc("DONE()")])
    assert result.status == "finished"
    failed = result.records[0]
    assert failed["status"] == "failed" and failed["raw"] == "still none"
    assert failed["retry"]["raw"] == "no action here" and "twice" in failed["error"]
    assert "could not be read twice" in _prompt_text(engine.history[2])
    assert executor.actions == []


def test_coordinates_out_of_range_are_clamped_and_noted():
    result, engine, executor = _run([pc("left_click(start_box='[1500,200]')"), pc("DONE()")])
    assert executor.actions[0].point == (1000.0, 100.0)
    assert "clamped" in result.records[0]["clamped"] and "1500" in result.records[0]["clamped"]
    assert "clamped" in _prompt_text(engine.history[1])


class FailingExecutor(DryRunExecutor):
    def act(self, action: Action) -> Observation:
        raise ExecutorError("the display went away")


def test_an_executor_error_is_an_observation_the_model_sees():
    result, engine, _ = _run(
        [pc("left_click(start_box='[1,1]')"), pc("DONE()")], executor=FailingExecutor("desktop")
    )
    assert result.status == "finished"
    assert result.records[0]["status"] == "error"
    assert "the display went away" in result.records[0]["observation"]["note"]
    assert "the display went away" in _prompt_text(engine.history[1])


@pytest.mark.parametrize(
    "confirm,answer,asked,executed,first",
    [
        ("risky", False, 1, ["click"], "refused"),
        ("risky", True, 1, ["key", "click"], "acted"),
        ("never", False, 0, ["key", "click"], "acted"),
        ("always", True, 2, ["key", "click"], "acted"),
        ("always", False, 2, [], "refused"),
    ],
    ids=["risky-refused", "risky-allowed", "never-asks", "always-allowed", "always-refused"],
)
def test_destructive_hotkey_asks_and_a_refusal_skips_the_step(confirm, answer, asked, executed, first):
    questions = []
    gate = SafetyGate(confirm, ask=lambda question: questions.append(question) or answer)
    replies = [pc("key(keys='alt+f4')"), pc("left_click(start_box='[1,1]')"), pc("DONE()")]
    result, engine, executor = _run(replies, gate=gate)
    assert len(questions) == asked
    assert [a.kind for a in executor.actions] == executed
    assert result.records[0]["status"] == first
    if asked:
        assert "alt+f4" in questions[0]
    if first == "refused":
        assert "refused" in _prompt_text(engine.history[1])


@pytest.mark.parametrize(
    "keys,confirm,asked",
    [
        ("ctrl+alt+t", "risky", 1),
        ("alt+F2", "risky", 1),
        ("win+r", "always", 1),
        ("super+Return", "never", 0),  # never silent: refused without asking
    ],
)
def test_a_hotkey_that_would_open_a_shell_asks_and_a_refusal_keeps_the_commands_from_being_typed(
    keys, confirm, asked
):
    questions = []
    gate = SafetyGate(confirm, ask=lambda question: questions.append(question) or False)
    replies = [pc(f"key(keys='{keys}')"), pc("type(content='echo hello\\n')"), pc("DONE()")]
    result, _, executor = _run(replies, gate=gate)
    assert result.records[0]["status"] == "refused"
    assert "opens a terminal or a run-command prompt" in result.records[0]["gate"]["risk"]
    assert len(questions) - (confirm == "always") == asked  # "always" also asks before the typing
    assert "key" not in [a.kind for a in executor.actions]


def test_web_answer_ends_the_run_and_mobile_answer_then_status_is_answered():
    web = ScriptedEngine(
        ["Thought: found it\nAction: ANSWER; <content>42 euros</content>\nMemory_Updated: {}"]
    )
    result = Agent(web, DryRunExecutor("web"), "What does it cost?").run()
    assert (result.status, result.answer, result.steps) == ("answered", "42 euros", 1)
    answer = '{"action_type": "answer", "text": "Tuesday"}'
    status = '{"action_type": "status", "goal_status": "complete"}'
    mobile = ScriptedEngine(
        [
            f"Memory: []\nReason: say it\nAction: {B}{answer}{E}",
            f"Memory: []\nReason: done\nAction: {B}{status}{E}",
        ]
    )
    result = Agent(mobile, DryRunExecutor("mobile", width=1080, height=2400), "When is it?").run()
    assert (result.status, result.answer, result.steps) == ("answered", "Tuesday", 2)


def test_step_limit_time_limit_and_stop_end_the_run():
    click = pc("left_click(start_box='[1,1]')")
    result, _, _ = _run([click] * 5, settings=AgentSettings(max_steps=2))
    assert (result.status, result.steps) == ("max_steps", 2)
    slow = ScriptedEngine([click] * 5, family="glm-4.5v", delay=0.01)  # one step takes about 0.2 s
    result = Agent(slow, DryRunExecutor("desktop"), "task", settings=AgentSettings(time_limit=0.1)).run()
    assert (result.status, result.steps) == ("time_limit", 1)
    engine = ScriptedEngine([click] * 5, family="glm-4.5v")
    agent = Agent(engine, DryRunExecutor("desktop"), "task")
    agent.on_step = lambda record: agent.stop()  # what Ctrl-C does in `glmv agent`
    assert (agent.run().status, len(agent.records)) == ("stopped", 1)


def test_record_report_replay_round_trip(tmp_path):
    screen = Image.new("RGB", (800, 600), (240, 240, 240))
    replies = [
        pc("left_click(start_box='[250,500]')", thought="Open the menu."),
        pc("type(content='hello <world>')"),
        pc("key(keys='alt+f4')"),  # refused: not replayed
        pc("DONE()"),
    ]
    recorder = Recorder(tmp_path / "run")
    result, _, executor = _run(
        replies,
        executor=DryRunExecutor("desktop", screenshot=screen),
        recorder=recorder,
        gate=SafetyGate(ask=None),
    )
    assert result.status == "finished" and result.folder == str(tmp_path / "run")
    trajectory = load_trajectory(tmp_path / "run")
    assert trajectory.header["task"] == "Open the settings" and trajectory.header["family"] == "glm-4.5v"
    assert [s["status"] for s in trajectory.steps] == ["acted", "acted", "refused", "done"]
    assert trajectory.end["status"] == "finished"
    first = trajectory.steps[0]
    assert first["pixels"]["point"] == [200.0, 300.0] and first["action"]["point"] == [250, 500]
    assert first["raw"] == replies[0] and first["reasoning"] == "Looking at the screen."
    assert first["prompt"][0]["content"][-1]["image_url"]["url"] == "screenshots/step-001.png"
    drawn = Image.open(tmp_path / "run" / "screenshots" / "step-001.png").convert("RGB")
    assert drawn.size == (800, 600) and drawn.getpixel((200 + 10, 300)) != (
        240,
        240,
        240,
    )  # the ring is drawn
    report = (tmp_path / "run" / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 5  # four steps and the final screen, all embedded
    assert "hello &lt;world&gt;" in report and "<world>" not in report
    assert 'src="http' not in report and "<link" not in report and "<script" not in report  # self-contained
    assert "refused" in report
    again = DryRunExecutor("desktop", width=1600, height=1200)  # a bigger screen: the same place, scaled
    replayed = replay(tmp_path / "run", again)
    assert [(s.step, s.action.kind) for s in replayed] == [(1, "click"), (2, "type")]
    assert again.actions[0].point == (400.0, 600.0) and again.actions[1].text == "hello <world>"
    assert [a.kind for a in executor.actions] == ["click", "type"]


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    from glmv.errors import ConfigError

    Recorder(tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds"):
        Recorder(tmp_path / "run")


def test_score_a_recorded_run_with_the_osworld_verifier(tmp_path):
    replies = [pc("left_click(start_box='[250,500]')"), pc("type(content='hello')"), pc("DONE()")]
    _run(replies, recorder=Recorder(tmp_path / "run"))
    truths = tmp_path / "gt.jsonl"
    truths.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"step": 1, "gt_answer": "left_click(start_box='[250,505]')"},
                {"step": 2, "gt_answer": "type(content='hello')"},
                {"step": 3, "gt_answer": "DONE()"},
            ]
        )
    )
    scores = score_trajectory(tmp_path / "run", truths)
    assert [s.step for s in scores] == [1, 2, 3]
    assert scores[0].reward == pytest.approx(0.95)  # distance 5 → 1 − 0.01·5
    assert scores[1].reward == 1.0 and scores[2].reward == 1.0


def test_executors_open_by_name_and_an_unknown_one_is_a_clear_error():
    from glmv.agent.executors import available_executors, open_executor, register_executor
    from glmv.errors import ConfigError

    assert {"android", "browser", "desktop", "dry-run"} <= set(available_executors())
    assert open_executor("dry-run", platform="web").platform == "web"
    register_executor("test-phone", lambda **options: DryRunExecutor("mobile", **options))
    assert open_executor("test-phone", width=10, height=20).observe().size == (10, 20)
    with pytest.raises(ConfigError, match="Unknown executor 'teleport'"):
        open_executor("teleport")


def test_score_a_recorded_mobile_run_with_the_android_world_verifier(tmp_path):
    tap = '{"action_type": "click", "box_2d": [[100,100,200,200]]}'
    done = '{"action_type": "status", "goal_status": "complete"}'
    replies = [
        f"Memory: []\nReason: tap\nAction: {B}{tap}{E}",
        f"Memory: []\nReason: done\nAction: {B}{done}{E}",
    ]
    engine = ScriptedEngine(replies, family="glm-4.5v")
    Agent(
        engine,
        DryRunExecutor("mobile", width=1080, height=2400),
        "Tap it",
        recorder=Recorder(tmp_path / "run"),
    ).run()
    truths = {1: '{"action_type": "click", "box_2d": [[100,100,200,250]]}', 2: done}
    scores = score_trajectory(tmp_path / "run", truths)
    assert scores[0].reward == pytest.approx(100 * 100 / (100 * 150))  # IoU of the two boxes
    assert scores[1].reward == 1.0


def test_a_ui_tars_model_drives_the_loop_in_its_own_dialect():
    replies = [
        "Thought: open it\nAction: click(start_box='(500,500)')",
        "Thought: ok\nAction: finished(content='Opened.')",
    ]
    settings = AgentSettings(dialect="ui-tars")
    result, _, executor = _run(replies, family="glm-4.5v", settings=settings)
    assert (result.status, result.answer) == ("answered", "Opened.")
    assert executor.actions[0].point == (500.0, 250.0)
