"""The GLM-V GUI agent: it acts on a real browser, desktop or phone, step by step, safely, and keeps a record.

    from glmv.agent import Agent, Recorder, SafetyGate
    from glmv.agent.executors import open_executor
    from glmv.engine import open_engine

    engine = open_engine("http://localhost:8000/v1", model="glm-4.5v")
    with open_executor("browser", url="http://127.0.0.1:8080/") as browser:
        result = Agent(engine, browser, "Find the price of the blue mug", gate=SafetyGate("risky"),
                       recorder=Recorder("runs/mug")).run()
    print(result.status, result.answer)

The loop (:mod:`glmv.agent.loop`) composes the prompt builders (:mod:`glmv.agent.prompts`, the official texts),
the engine, the reply reader (:mod:`glmv.agent.reading`, over :mod:`glmv.actions`), the safety gate
(:mod:`glmv.agent.gate`), an executor (:mod:`glmv.agent.executors`) and the recorder (:mod:`glmv.agent.record`);
:func:`replay` re-executes a record and :func:`score_trajectory` scores it with the reward system's GUI verifiers.
"""

from glmv.agent.gate import SafetyGate, domain_allowed
from glmv.agent.loop import Agent, AgentResult, AgentSettings, clamp_action
from glmv.agent.prompts import HistoryStep, build_messages
from glmv.agent.reading import StepReply, read_reply
from glmv.agent.record import Recorder, Trajectory, load_trajectory, write_report
from glmv.agent.replay import ReplayedStep, replay
from glmv.agent.score import StepScore, score_trajectory

__all__ = [
    "Agent",
    "AgentResult",
    "AgentSettings",
    "HistoryStep",
    "Recorder",
    "ReplayedStep",
    "SafetyGate",
    "StepReply",
    "StepScore",
    "Trajectory",
    "build_messages",
    "clamp_action",
    "domain_allowed",
    "load_trajectory",
    "read_reply",
    "replay",
    "score_trajectory",
    "write_report",
]
