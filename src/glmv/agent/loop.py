"""The agent loop: observe → prompt → engine → parse → clamp → safety gate → act → record, step after step.

:class:`Agent` runs one task on one executor until the model answers or finishes (``ANSWER``, ``status``,
``DONE()``, ``FAIL()``, ``finished()``), the step limit, the wall-clock limit, or a stop request
(:meth:`Agent.stop`, what Ctrl-C calls: the current step finishes and the record is saved).

What goes wrong is written down, not raised:

- a reply that does not parse is asked again once with the parse error appended to the prompt; if the second
  reply does not parse either, the step fails with both texts kept in the record and the model is told next step;
- coordinates outside the screen (above 1000 thousandths) are clamped to it and the clamp is noted;
- an :class:`~glmv.agent.executors.ExecutorError` (element gone, device offline, display missing) becomes the
  observation the model sees next;
- a refused action is skipped and the refusal is the step's note.

An engine failure ends the run (status ``error``), the record kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from PIL import Image

from glmv.actions import Action, ActionParseError, action_to_dict
from glmv.actions.action import qwen_resized_size
from glmv.agent.draw import draw_action, draw_marks
from glmv.agent.executors.base import Executor, ExecutorError, Observation, Target
from glmv.agent.gate import SafetyGate
from glmv.agent.prompts import HistoryStep, build_messages
from glmv.agent.reading import StepReply, read_reply
from glmv.agent.record import Recorder
from glmv.engine import ChatRequest, Engine, chat
from glmv.errors import ConfigError, EngineError
from glmv.families import Family, get_family
from glmv.messages import text_part
from glmv.output import Reply
from glmv.output.boxes import strip_box_markers

__all__ = ["RETRY_NOTE", "Agent", "AgentResult", "AgentSettings", "clamp_action"]

RETRY_NOTE = (
    "\n\nYour previous reply could not be read: {problem}. Reply again in the output format given above, with "
    "exactly one action."
)
"""What is appended to the prompt when a reply does not parse."""

_ENDING = {"finish": "finished", "fail": "infeasible", "call_user": "needs_user"}


@dataclass(frozen=True)
class AgentSettings:
    """How a run is driven; the request settings default to the official agent scripts' (AGENT.md §6)."""

    max_steps: int = 30
    time_limit: float | None = None
    max_tokens: int = 8192
    temperature: float | None = 0.001
    thinking_budget: int | None = None
    enable_thinking: bool | None = None
    dialect: str | None = None

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}.")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigError(f"The time limit must be positive, got {self.time_limit}.")


@dataclass
class AgentResult:
    """How a run ended: ``status`` (``answered``, ``finished``, ``infeasible``, ``needs_user``, ``max_steps``,
    ``time_limit``, ``stopped``, ``interrupted``, ``error``), the answer when there is one, the steps taken, the
    record folder, and the step records."""

    status: str
    answer: str | None
    steps: int
    folder: str | None = None
    error: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)


def clamp_action(action: Action, width: int, height: int) -> tuple[Action, str]:
    """``action`` with its coordinates brought inside the screen, and a note saying what was clamped ("" if none).

    Thousandths are kept within 0–1000, UI-TARS-1.5's resized pixels within its resized size, pixels within the
    screenshot.
    """
    if action.space == "thousandths":
        limit_x = limit_y = 1000.0
    elif action.space == "resized":
        limit_x, limit_y = (float(v) for v in qwen_resized_size(width, height))
    else:
        limit_x, limit_y = float(width), float(height)
    changed: dict[str, Any] = {}
    notes = []
    for name in ("point", "box", "end_point"):
        values = getattr(action, name)
        if values is None:
            continue
        limits = [limit_x if i % 2 == 0 else limit_y for i in range(len(values))]
        inside = tuple(min(max(v, 0), limit) for v, limit in zip(values, limits, strict=True))
        if inside != tuple(values):
            changed[name] = inside
            notes.append(f"{name} {list(values)} → {list(inside)}")
    if not changed:
        return action, ""
    return replace(
        action, **changed
    ), f"coordinates outside the screen were clamped ({action.space}): " + "; ".join(notes)


def _reply_text(reply: Reply) -> str:
    """The model's whole text with box markers: ``raw`` when the engine kept it, else rebuilt."""
    if reply.raw:
        return reply.raw
    reasoning = f"<think>{reply.reasoning}</think>" if reply.reasoning else ""
    return reasoning + (reply.content or "")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Agent:
    """One task on one executor with one engine; :meth:`run` it, or :meth:`step` it yourself.

    ``family`` picks the prompt layout and defaults to the engine's (GLM-4.6V when it has none); the platform is
    the executor's. ``gate`` defaults to ``SafetyGate("risky")`` with nobody to ask (risky actions are refused);
    ``recorder`` writes the run; ``on_step`` is called with each step's record as it is done. ``clock`` gives
    the time the GLM-4.5V web prompt states (the local clock when None; a fixed one makes prompts repeatable).
    """

    def __init__(
        self,
        engine: Engine,
        executor: Executor,
        task: str,
        *,
        family: Family | str | None = None,
        gate: SafetyGate | None = None,
        recorder: Recorder | None = None,
        settings: AgentSettings | None = None,
        on_step: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not task.strip():
            raise ConfigError(
                "Give the agent a task, e.g. glmv agent web 'find the opening hours' --url URL."
            )
        self.engine = engine
        self.executor = executor
        self.task = task.strip()
        self.platform = executor.platform
        self.family = get_family(family or getattr(engine, "family", None) or "glm-4.6v")
        self.gate = gate or SafetyGate()
        self.recorder = recorder
        self.settings = settings or AgentSettings()
        self.on_step = on_step
        self.clock = clock
        self.history: list[HistoryStep] = []
        self.records: list[dict[str, Any]] = []
        self.answer: str | None = None
        self.observation: Observation | None = None
        self._stop = threading.Event()
        self._started = 0.0

    def stop(self) -> None:
        """Ask the run to end after the current step (Ctrl-C in ``glmv agent``)."""
        self._stop.set()

    # --- one step ---------------------------------------------------------------------------------------------

    def _request(self, messages: list[dict[str, Any]]) -> Reply:
        s = self.settings
        return chat(
            self.engine,
            ChatRequest(
                messages=messages,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                thinking_budget=s.thinking_budget,
                enable_thinking=s.enable_thinking,
                keep_box_markers=True,
            ),
        )

    def _ask_and_read(
        self, messages: list[dict[str, Any]], record: dict[str, Any]
    ) -> tuple[Reply, StepReply | None]:
        reply = self._request(messages)
        try:
            return reply, read_reply(_reply_text(reply), self.platform, dialect=self.settings.dialect)
        except ActionParseError as first:
            record["retry"] = {"raw": _reply_text(reply), "error": first.problem}
            retry = [dict(message) for message in messages]
            content = list(retry[-1]["content"])
            content.append(text_part(RETRY_NOTE.format(problem=first.problem)))
            retry[-1] = {**retry[-1], "content": content}
            reply = self._request(retry)
            try:
                return reply, read_reply(_reply_text(reply), self.platform, dialect=self.settings.dialect)
            except ActionParseError as second:
                record["error"] = f"the reply could not be read twice: {second.problem}"
                return reply, None

    def step(self) -> str | None:
        """Take one step; returns the run's final status when this step ended it, else None."""
        number = len(self.records) + 1
        started = time.perf_counter()
        if self.observation is None:
            self.observation = self.executor.observe()
        observation = self.observation
        seen = (
            draw_marks(observation.screenshot, observation.marks)
            if observation.marks
            else observation.screenshot
        )
        messages = build_messages(
            self.platform,
            self.family,
            self.task,
            seen,
            self.history,
            url=observation.url,
            elements=observation.elements_text(),
            now=self.clock() if self.clock is not None else None,
        )
        prompt_done = time.perf_counter()
        record: dict[str, Any] = {
            "step": number,
            "started": _now(),
            "retry": None,
            "error": None,
            "clamped": "",
        }
        reply, read = self._ask_and_read(messages, record)
        engine_done = time.perf_counter()
        record.update(raw=_reply_text(reply), reasoning=reply.reasoning)
        record["usage"] = (
            None
            if reply.usage is None
            else {
                "prompt_tokens": reply.usage.prompt_tokens,
                "completion_tokens": reply.usage.completion_tokens,
            }
        )
        ending: str | None = None
        drawn = seen
        if read is None:
            record["status"] = "failed"
            visible = strip_box_markers(reply.content or reply.reasoning)
            self.history.append(
                HistoryStep(
                    visible.strip(), "(unreadable)", note=record["error"], screenshot=observation.screenshot
                )
            )
            after = observation
        else:
            ending, after, drawn = self._carry_out(read, observation, seen, record)
        acted = time.perf_counter()
        record["observation"] = {
            "url": after.url,
            "title": after.title,
            "note": after.note,
            "error": after.error,
            "size": list(after.size),
            "marks": len(after.marks),
        }
        self.observation = after
        record["timing"] = {
            "prompt_s": round(prompt_done - started, 4),
            "engine_s": round(engine_done - prompt_done, 4),
            "act_s": round(acted - engine_done, 4),
        }
        if self.recorder is not None:
            self.recorder.step(record, drawn, messages)
        record["timing"]["total_s"] = round(time.perf_counter() - started, 4)
        self.records.append(record)
        if self.on_step is not None:
            self.on_step(record)
        return ending

    def _carry_out(
        self, read: StepReply, observation: Observation, seen: Image.Image, record: dict[str, Any]
    ) -> tuple[str | None, Observation, Image.Image]:
        width, height = observation.size
        action, clamped = clamp_action(read.action, width, height)
        pixels = action.to_pixels(width, height)
        record.update(action=action_to_dict(read.action), pixels=action_to_dict(pixels), clamped=clamped)
        mark = observation.mark(pixels.label) if pixels.label is not None else None
        drawn = draw_action(seen, pixels, mark)
        ending = None
        note = clamped
        if action.kind == "answer" or (action.kind == "finish" and action.text and self.answer is None):
            self.answer = action.text  # UI-TARS's finished(content=…) is its reply to the user
        if action.kind in _ENDING or (action.kind == "answer" and self.platform == "web"):
            ending = _ENDING.get(action.kind, "answered")
            if action.kind == "finish" and self.answer is not None:
                ending = "answered"
            record["gate"] = {"allowed": True, "risk": "", "asked": False}
            record["status"] = "done"
            after = observation
        else:
            try:
                target = self.executor.inspect(pixels)
            except ExecutorError:
                target = Target()
            decision = self.gate.check(pixels, target, self.platform)
            record["gate"] = {"allowed": decision.allowed, "risk": decision.risk, "asked": decision.asked}
            if not decision.allowed:
                record["status"] = "refused"
                after = replace(observation, note=decision.note, error=False)
            else:
                after = self._act(pixels)
                record["status"] = "error" if after.error else "acted"
                if decision.note:
                    after.note = "; ".join(filter(None, [decision.note, after.note]))
            note = "; ".join(filter(None, [clamped, after.note]))
        self.history.append(
            HistoryStep(
                read.visible,
                read.action_text,
                thought=read.thought,
                memory=read.memory,
                note=note,
                screenshot=observation.screenshot,
            )
        )
        return ending, after, drawn

    def _act(self, action: Action) -> Observation:
        try:
            return self.executor.act(action)
        except ExecutorError as exc:
            try:
                after = self.executor.observe()
            except ExecutorError:
                after = Observation(self.observation.screenshot)
            after.note = f"the action failed: {exc}"
            after.error = True
            return after

    # --- the run ----------------------------------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        s = self.settings
        return {
            "task": self.task,
            "platform": self.platform,
            "family": self.family.name,
            "executor": self.executor.name,
            "model": getattr(self.engine, "model", None),
            "started": _now(),
            "settings": {
                "max_steps": s.max_steps,
                "time_limit": s.time_limit,
                "max_tokens": s.max_tokens,
                "temperature": s.temperature,
                "thinking_budget": s.thinking_budget,
                "dialect": s.dialect,
                "confirm": self.gate.confirm,
                "allow_domains": list(self.gate.allow_domains),
            },
        }

    def run(self) -> AgentResult:
        """Step until the run ends; always writes the record's end (and report) when there is a recorder."""
        self._started = time.monotonic()
        if self.recorder is not None:
            self.recorder.start(self._header())
        status: str | None = None
        error: str | None = None
        try:
            while status is None:
                if self._stop.is_set():
                    status = "stopped"
                elif len(self.records) >= self.settings.max_steps:
                    status = "max_steps"
                elif (
                    self.settings.time_limit is not None
                    and time.monotonic() - self._started > self.settings.time_limit
                ):
                    status = "time_limit"
                else:
                    status = self.step()
        except KeyboardInterrupt:
            status = "interrupted"
        except (EngineError, ExecutorError) as exc:
            status, error = "error", str(exc)
        result = AgentResult(status, self.answer, len(self.records), error=error, records=self.records)
        if self.recorder is not None:
            final = self.observation.screenshot if self.observation is not None else None
            end = {"status": status, "answer": self.answer, "steps": len(self.records), "error": error}
            end["seconds"] = round(time.monotonic() - self._started, 3)
            self.recorder.finish(end, final)
            result.folder = str(self.recorder.folder)
        return result
