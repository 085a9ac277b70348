"""``glmv agent``: run a GLM-V GUI agent on a browser, an X11 desktop or an Android phone; replay and score its
records.

``glmv agent web TASK --url URL`` / ``glmv agent desktop TASK`` / ``glmv agent android TASK --serial S`` map onto
:class:`glmv.agent.Agent` with an executor of :mod:`glmv.agent.executors` (``--dry-run``: the dry-run executor),
a :class:`~glmv.agent.SafetyGate` (``--confirm``, ``--allow-domain``; questions are asked on the terminal, and
answered no when nobody can answer), :class:`~glmv.agent.AgentSettings` (``--max-steps``, ``--time-limit``,
``--max-tokens``, ``--temperature``, ``--budget``, ``--dialect``) and a :class:`~glmv.agent.Recorder` (``--record
DIR``; default ``glmv-runs/<time>-<platform>``). The engine opens as in ``glmv chat`` (``-m`` / ``--api``). Ctrl-C
finishes the current step and saves the record; a second Ctrl-C stops at once (the record is saved too).
``glmv agent replay DIR`` re-executes a record (:func:`glmv.agent.replay`), ``glmv agent score DIR --gt FILE``
scores it with the reward system's GUI verifiers (:func:`glmv.agent.score_trajectory`), ``glmv agent report DIR``
renders its ``report.html`` again.
"""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption
from glmv.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from glmv.agent.executors import Executor

__all__ = ["agent_app"]

agent_app = typer.Typer(
    help="Run a GLM-V GUI agent on a browser, desktop or phone; replay and score its records.",
    no_args_is_help=True,
)
app.add_typer(agent_app, name="agent")

Task = Annotated[str, typer.Argument(help="What the agent should do.")]
MaxSteps = Annotated[int, typer.Option("--max-steps", min=1, help="Most steps before the run stops.")]
TimeLimit = Annotated[
    float | None, typer.Option("--time-limit", min=0.001, help="Wall-clock limit of the run in seconds.")
]
Confirm = Annotated[
    str, typer.Option("--confirm", help="Ask before: never, risky actions (default), always.")
]
Record = Annotated[Path | None, typer.Option("--record", help="Folder for the record (default glmv-runs/…).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Record what would be done; touch nothing.")]
Model = Annotated[str, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")]
MaxTokens = Annotated[
    int, typer.Option("--max-tokens", min=1, help="Most tokens per reply (official: 8192).")
]
Temperature = Annotated[
    float, typer.Option("--temperature", min=0, help="Sampling temperature (official: 0.001).")
]
Budget = Annotated[int | None, typer.Option("--budget", min=0, help="Thinking budget in tokens.")]
Dialect = Annotated[
    str | None, typer.Option("--dialect", help="Read actions in another dialect (ui-tars, ui-tars-1.5).")
]


def _ask(question: str) -> bool:
    """Ask on the terminal; no answer (no terminal, end of input) is a no."""
    try:
        return typer.confirm(question, default=False, err=True)
    except (typer.Abort, EOFError):
        return False


def _record_folder(record: Path | None, platform: str) -> Path:
    if record is not None:
        return record
    return Path("glmv-runs") / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{platform}"


def _run(executor: Executor, task: str, options: dict, allow_domains: list[str]) -> None:
    """Run the task on ``executor`` (closed afterwards, whatever happens)."""
    try:
        _drive(executor, task, options, allow_domains)
    finally:
        executor.close()


def _drive(executor: Executor, task: str, options: dict, allow_domains: list[str]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from glmv.agent import Agent, AgentSettings, Recorder, SafetyGate
    from glmv.cli.engines import open_cli_engine

    console = Console(stderr=True, highlight=False)
    settings = AgentSettings(
        max_steps=options["max_steps"],
        time_limit=options["time_limit"],
        max_tokens=options["max_tokens"],
        temperature=options["temperature"],
        thinking_budget=options["budget"],
        dialect=options["dialect"],
    )
    gate = SafetyGate(options["confirm"], allow_domains=allow_domains, ask=_ask)
    folder = _record_folder(options["record"], executor.platform)
    engine = open_cli_engine(
        options["model"],
        family=options["family"],
        api=options["api"],
        api_key=options["api_key"],
        device=options["device"],
        dtype=options["dtype"],
    )

    def show(record: dict) -> None:
        action = (record.get("action") or {}).get("raw") or record.get("error") or ""
        note = (record.get("observation") or {}).get("note") or ""
        console.print(
            f"[bold]step {record['step']}[/]: {escape(action)} → {escape(record['status'])}"
            + (f" [dim]({escape(note)})[/]" if note else "")
        )

    agent = Agent(
        engine,
        executor,
        task,
        family=options["family"],
        gate=gate,
        recorder=Recorder(folder),
        settings=settings,
        on_step=show,
    )

    def interrupted(signum: int, frame: object) -> None:
        console.print("[yellow]Finishing the current step (Ctrl-C again to stop now)…[/]")
        agent.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        result = agent.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    console.print(f"Result: [bold]{escape(result.status)}[/] after {result.steps} steps", soft_wrap=True)
    if result.answer is not None:
        print(result.answer)
    if result.error:
        console.print(f"[red]{escape(result.error)}[/]", soft_wrap=True)
    console.print(
        f"Record: {escape(str(folder))} (report: {escape(str(folder / 'report.html'))})", soft_wrap=True
    )
    if result.status in ("error", "infeasible"):
        raise typer.Exit(1)


_OWN = {"task", "url", "allow_domain", "any_domain", "headed", "browser", "downloads", "display", "private"}
_OWN |= {"width", "height", "serial"}


def _common(given: dict) -> dict:
    """The options every platform command shares (engine, gate, settings, record), from its ``locals()``."""
    return {key: value for key, value in given.items() if key not in _OWN}


def _dry(platform: str, url: str = "") -> Executor:
    from glmv.agent.executors import DryRunExecutor

    size = (1080, 2400) if platform == "mobile" else (1280, 800)
    return DryRunExecutor(platform, width=size[0], height=size[1], url=url)


@agent_app.command("web")
def web_command(
    task: Task,
    url: Annotated[str, typer.Option("--url", help="The page to start on.")],
    allow_domain: Annotated[
        list[str] | None,
        typer.Option("--allow-domain", help="A domain the browser may go to (repeatable; default: --url's)."),
    ] = None,
    any_domain: Annotated[bool, typer.Option("--any-domain", help="Let the browser go anywhere.")] = False,
    headed: Annotated[bool, typer.Option("--headed", help="Show the browser window.")] = False,
    browser: Annotated[str | None, typer.Option("--browser", help="The Chromium to drive.")] = None,
    downloads: Annotated[
        Path | None, typer.Option("--downloads", help="Folder for downloads (default: refused).")
    ] = None,
    max_steps: MaxSteps = 30,
    time_limit: TimeLimit = None,
    confirm: Confirm = "risky",
    record: Record = None,
    dry_run: DryRun = False,
    model: Model = DEFAULT_MODEL,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    max_tokens: MaxTokens = 8192,
    temperature: Temperature = 0.001,
    budget: Budget = None,
    dialect: Dialect = None,
) -> None:
    """Do a task in a browser (Chromium through Playwright, set-of-marks labels)."""
    options = _common(locals())
    domains = [] if any_domain else list(allow_domain or []) or [urlsplit(url).hostname or ""]
    if dry_run:
        executor = _dry("web", url)
    else:
        from glmv.agent.executors import open_executor

        executor = open_executor(
            "browser", url=url, headless=not headed, executable=browser, downloads=downloads
        )
    _run(executor, task, options, [domain for domain in domains if domain])


@agent_app.command("desktop")
def desktop_command(
    task: Task,
    display: Annotated[
        str | None, typer.Option("--display", help="The X display (default: $DISPLAY).")
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Start a private Xvfb, even with a $DISPLAY.")
    ] = False,
    width: Annotated[int, typer.Option("--width", min=64, help="Width of a private display.")] = 1280,
    height: Annotated[int, typer.Option("--height", min=64, help="Height of a private display.")] = 800,
    max_steps: MaxSteps = 30,
    time_limit: TimeLimit = None,
    confirm: Confirm = "risky",
    record: Record = None,
    dry_run: DryRun = False,
    model: Model = DEFAULT_MODEL,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    max_tokens: MaxTokens = 8192,
    temperature: Temperature = 0.001,
    budget: Budget = None,
    dialect: Dialect = None,
) -> None:
    """Do a task on an X11 desktop (xdotool and mss; a private Xvfb when there is no display)."""
    options = _common(locals())
    if dry_run:
        executor = _dry("desktop")
    else:
        from glmv.agent.executors import open_executor

        executor = open_executor("desktop", display=display, private=private, width=width, height=height)
    _run(executor, task, options, [])


@agent_app.command("android")
def android_command(
    task: Task,
    serial: Annotated[
        str | None, typer.Option("--serial", help="The device (default: the only one attached).")
    ] = None,
    max_steps: MaxSteps = 30,
    time_limit: TimeLimit = None,
    confirm: Confirm = "risky",
    record: Record = None,
    dry_run: DryRun = False,
    model: Model = DEFAULT_MODEL,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    max_tokens: MaxTokens = 8192,
    temperature: Temperature = 0.001,
    budget: Budget = None,
    dialect: Dialect = None,
) -> None:
    """Do a task on an Android phone or emulator (adb)."""
    options = _common(locals())
    if dry_run:
        executor = _dry("mobile")
    else:
        from glmv.agent.executors import open_executor

        executor = open_executor("android", serial=serial)
    _run(executor, task, options, [])


@agent_app.command("replay")
def replay_command(
    folder: Annotated[Path, typer.Argument(help="A folder a run was recorded into.")],
    executor_name: Annotated[
        str | None,
        typer.Option("--executor", help="browser, desktop, android or dry-run (default: the record's)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Browser: the page to start on (default: the record's).")
    ] = None,
    serial: Annotated[str | None, typer.Option("--serial", help="Android: the device.")] = None,
    display: Annotated[str | None, typer.Option("--display", help="Desktop: the X display.")] = None,
    headed: Annotated[bool, typer.Option("--headed", help="Browser: show the window.")] = False,
    delay: Annotated[float, typer.Option("--delay", min=0, help="Seconds between steps.")] = 0.5,
) -> None:
    """Carry out a recorded run's actions again, to reproduce what happened."""
    from rich.console import Console
    from rich.markup import escape

    from glmv.agent import load_trajectory, replay
    from glmv.agent.executors import DryRunExecutor, open_executor

    trajectory = load_trajectory(folder)
    platform = trajectory.header.get("platform", "desktop")
    name = executor_name or trajectory.header.get("executor") or "dry-run"
    if name == "dry-run":
        executor = DryRunExecutor(platform)
    elif name == "browser":
        executor = open_executor("browser", url=url or _first_url(trajectory), headless=not headed)
    elif name == "desktop":
        executor = open_executor("desktop", display=display)
    else:
        executor = open_executor(name, **({"serial": serial} if name == "android" else {}))
    console = Console(stderr=True, highlight=False)
    try:
        steps = replay(
            folder,
            executor,
            delay=delay,
            on_step=lambda s: console.print(
                f"step {s.step}: {escape(s.action.raw or s.action.kind)}"
                + (f" [red]{escape(s.error)}[/]" if s.error else "")
            ),
        )
    finally:
        executor.close()
    failed = [step for step in steps if step.error]
    console.print(f"Replayed {len(steps)} steps, {len(failed)} failed.")
    if failed:
        raise typer.Exit(1)


def _first_url(trajectory) -> str | None:
    """The page the recorded run started on: the URL its first prompt was built for."""
    for step in trajectory.steps:
        for message in step.get("prompt") or []:
            for part in message.get("content") or []:
                text = part.get("text", "") if isinstance(part, dict) else ""
                marker = "Please interact with "
                if marker in text:
                    return text.split(marker, 1)[1].split(" and get the answer", 1)[0]
    return None


@agent_app.command("score")
def score_command(
    folder: Annotated[Path, typer.Argument(help="A folder a run was recorded into.")],
    gt: Annotated[
        Path, typer.Option("--gt", help="Ground truths: JSONL of {step, gt_answer} or one per line.")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the scores as JSON lines.")] = False,
) -> None:
    """Score a recorded run's steps with the reward system's GUI verifiers (AndroidWorld, OSWorld, WebVoyager)."""
    from glmv.agent import score_trajectory

    scores = score_trajectory(folder, gt)
    if json_output:
        for score in scores:
            print(
                json.dumps(
                    {"step": score.step, "reward": score.reward, "reason": score.reason, "error": score.error}
                )
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{folder}: {len(scores)} steps scored")
    for column in ("step", "reward", "reason"):
        table.add_column(column)
    for score in scores:
        table.add_row(str(score.step), f"{score.reward:.3f}", score.error or score.reason)
    mean = sum(score.reward for score in scores) / len(scores) if scores else 0.0
    table.add_row("mean", f"{mean:.3f}", "")
    Console().print(table)


@agent_app.command("report")
def report_command(folder: Annotated[Path, typer.Argument(help="A folder a run was recorded into.")]) -> None:
    """Render a record's report.html again."""
    from glmv.agent import write_report

    print(write_report(folder))
