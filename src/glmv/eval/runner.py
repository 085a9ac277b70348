"""``run(task, data, engine, protocol) -> Run``: ask every selected item, score it, record it, summarise.

Items are selected from the records (``filters``, then ``shuffle`` with ``seed``, then ``limit``; a group of items —
MMBench's rotations — is selected whole), asked ``concurrency`` at a time, and each finished item is appended to
``results.jsonl`` at once. With ``resume`` the items already in that file are not asked again, so a run that was
interrupted (Ctrl-C, a crash, a kill) continues where it stopped and ends with the same summary.

What goes wrong with one item stays with that item: a bad record, an unreadable image, a request the engine
refuses, a reply that does not parse — scored 0, its error recorded and counted. An engine that goes away (the
server stops, the connection drops) stops the run: everything finished so far is kept, :attr:`Run.stopped` says
why, and a resumed run goes on from there.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmv.engine import ChatRequest, Engine, chat
from glmv.errors import (
    ConfigError,
    EngineBusyError,
    EngineError,
    MediaError,
    OutputError,
    RequestError,
)
from glmv.eval.data import map_columns, read_records
from glmv.eval.media import prepare_image, prepare_video
from glmv.eval.protocol import Protocol
from glmv.eval.results import ItemResult, ResultsFile, read_results
from glmv.eval.summary import summarize, write_reports
from glmv.eval.task import Item, Task, get_task

__all__ = ["Progress", "Run", "build_messages", "run", "select_items"]

_BUSY_RETRIES = 30
_SCORING_ERRORS = (
    OutputError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ConfigError,
    ZeroDivisionError,
)


@dataclass
class Run:
    """A finished (or stopped) run: its results in item order, the summary, where it was written, and
    ``stopped`` — why it stopped early (``None`` when every selected item is done)."""

    task: Task
    protocol: Protocol
    results: list[ItemResult]
    summary: dict[str, Any]
    planned: int
    out: Path | None = None
    stopped: str | None = None

    @property
    def complete(self) -> bool:
        return self.stopped is None and len(self.results) == self.planned


@dataclass
class Progress:
    """Where a run stands, handed to ``on_result`` after each item: items done of ``total``, the running mean
    score, failures so far and the items asked in this session (not resumed)."""

    done: int
    total: int
    score: float
    failures: int
    asked: int = 0
    latest: ItemResult | None = field(default=None, repr=False)


def select_items(
    task: Task,
    records: list[dict[str, Any]],
    *,
    filters: Mapping[str, str] | None = None,
    shuffle: bool = False,
    seed: int = 0,
    limit: int | None = None,
) -> list[Item]:
    """The items of ``records`` that a run asks, in order: filtered (``{"category": "Art"}`` or any record
    field), shuffled with ``seed``, then the first ``limit`` questions (a question's rotations stay together)."""
    groups: dict[str, list[Item]] = {}
    for index, record in enumerate(records):
        for item in task.items(record, index):
            if _matches(item, filters or {}):
                groups.setdefault(str(item.group), []).append(item)
    order = list(groups)
    if shuffle:
        random.Random(seed).shuffle(order)
    if limit is not None:
        order = order[: max(0, limit)]
    return [item for key in order for item in groups[key]]


def _matches(item: Item, filters: Mapping[str, str]) -> bool:
    for name, wanted in filters.items():
        value = item.category if name == "category" else item.fields.get(name, item.info.get(name))
        if str(value) != str(wanted):
            return False
    return True


def build_messages(task: Task, item: Item, base: Path | None = None) -> list[dict[str, Any]]:
    """The chat messages of one item: its images and videos, then the prompt text. Records the first image's
    size in ``item.info["image_size"]`` (grounding scores need it). Raises :class:`~glmv.errors.MediaError`."""
    parts: list[dict[str, Any]] = []
    for value in item.images:
        image = prepare_image(value, base)
        item.info.setdefault("image_size", (image.width, image.height))
        parts.append(image.part)
    parts += [prepare_video(value, base) for value in item.videos]
    parts.append({"type": "text", "text": task.prompt(item)})
    return [{"role": "user", "content": parts}]


class _EngineGone(Exception):
    pass


class _Counter:
    """Counts reasoning tokens with the engine's tokenizer when it has one, else estimates them."""

    def __init__(self, engine: Engine) -> None:
        self.exact = getattr(engine, "count_tokens", None)

    def __call__(self, text: str) -> tuple[int, str]:
        if not text:
            return 0, "tokenizer" if self.exact else "estimated"
        if callable(self.exact):
            return int(self.exact(text)), "tokenizer"
        from glmv.engine.scripted import split_tokens

        return len(split_tokens(text)), "estimated"


def _ask(engine: Engine, request: ChatRequest, stop: threading.Event) -> Any:
    for _ in range(_BUSY_RETRIES):
        try:
            return chat(engine, request)
        except EngineBusyError as exc:
            if stop.wait(min(max(exc.retry_after, 0.05), 5.0)):
                break
    raise _EngineGone("the engine stayed busy")


def _evaluate(
    task: Task,
    item: Item,
    engine: Engine,
    protocol: Protocol,
    base: Path | None,
    count: _Counter,
    stop: threading.Event,
) -> ItemResult:
    result = ItemResult(id=item.id, group=str(item.group), category=item.category, score=0.0, gold=item.gold)
    started = time.perf_counter()
    if stop.is_set():
        raise _EngineGone("the run is stopping")
    if item.error:
        result.error, result.error_kind = item.error, "record"
        return result
    try:
        messages = build_messages(task, item, base)
        result.prompt = messages[-1]["content"][-1]["text"]
        request = ChatRequest(
            messages=messages,
            max_tokens=protocol.max_tokens,
            temperature=protocol.temperature,
            seed=protocol.seed,
            enable_thinking=protocol.enable_thinking,
            thinking_budget=protocol.thinking_budget,
        )
        reply = _ask(engine, request, stop)
    except MediaError as exc:
        result.error, result.error_kind = str(exc), "media"
        return result
    except RequestError as exc:
        result.error, result.error_kind = str(exc), "request"
        return result
    except EngineError as exc:
        raise _EngineGone(str(exc)) from exc
    except Exception as exc:  # an engine failing in an unforeseen way stops the run; what is done is kept
        raise _EngineGone(f"{type(exc).__name__}: {exc}") from exc
    result.latency_s = round(time.perf_counter() - started, 4)
    result.raw, result.reasoning, result.content = reply.raw, reply.reasoning, reply.content
    result.finish_reason = reply.finish_reason
    if reply.usage is not None:
        result.prompt_tokens, result.completion_tokens = (
            reply.usage.prompt_tokens,
            reply.usage.completion_tokens,
        )
    result.reasoning_tokens, result.tokens_counted = count(reply.reasoning)
    budget = protocol.thinking_budget
    # The parser strips the newline after <think>, so a reasoning cut at the budget may count one token fewer.
    result.budget_hit = budget is not None and bool(reply.reasoning) and result.reasoning_tokens >= budget - 1
    result.passes = 2 if result.budget_hit else 1
    try:
        result.answer = task.extract(reply, item)
        result.score = float(task.score(result.answer, item))
    except _SCORING_ERRORS as exc:
        result.error, result.error_kind = f"{type(exc).__name__}: {exc}", "reply"
        result.score = 0.0
    extra = {key: value for key, value in item.info.items() if key in ("iou", "image_size")}
    result.info = extra or None
    return result


def _check_resume(out: Path, meta: dict[str, Any], resume: bool, overwrite: bool) -> None:
    path = out / "run.json"
    if not resume and not overwrite and read_results(out / "results.jsonl"):
        raise ConfigError(
            f"{out} already holds the results of a run; continue it with --resume (resume=True), start it "
            "afresh with --overwrite (overwrite=True), or choose another --out."
        )
    if resume and path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        for key in ("task", "protocol"):
            if before.get(key) != meta[key]:
                raise ConfigError(
                    f"{out} holds a run with another {key} ({before.get(key)!r}, now {meta[key]!r}); "
                    "resume with the same settings or choose another --out."
                )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def run(
    task: str | Task,
    data: str | Path | Iterable[Mapping[str, Any]],
    engine: Engine,
    protocol: str | Protocol = "official",
    *,
    out: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    prompt: str | None = None,
    options: Mapping[str, Any] | None = None,
    concurrency: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    filters: Mapping[str, str] | None = None,
    plots: bool = True,
    on_result: Callable[[Progress], None] | None = None,
) -> Run:
    """Evaluate ``engine`` on ``task`` over ``data`` under ``protocol`` (see the module docstring).

    ``task``: a registered name (``"chartqa"``) or a :class:`Task`; ``data``: a JSONL / parquet / CSV file, a
    ``datasets`` folder, or rows; ``columns``: the task's column names → the data's; ``prompt``: a template
    replacing the official prompt (``"{question}"``; record fields by name); ``options``: task options
    (``{"circular": False}``). With ``out``, ``results.jsonl``, ``summary.json``, ``report.md`` and the plots
    are written there; a folder that already holds results is continued with ``resume`` or started afresh with
    ``overwrite`` (else :class:`~glmv.errors.ConfigError`, so no finished work is lost by accident).
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}.")
    protocol = Protocol.parse(protocol)
    task = get_task(task, prompt=prompt, **dict(options or {}))
    records = map_columns(read_records(data), task.required, columns, task=f"the {task.name} task")
    items = select_items(task, records.rows, filters=filters, shuffle=shuffle, seed=seed, limit=limit)
    if items:
        task.prompt(
            next((i for i in items if not i.error), items[0])
        )  # a bad template fails before any request
    out_path = Path(out) if out is not None else None
    done: dict[str, ItemResult] = {}
    results_file = None
    if out_path is not None:
        meta = {"task": task.name, "protocol": protocol.to_dict(), "data": records.source}
        _check_resume(out_path, meta, resume, overwrite)
        if resume:
            done = {result.id: result for result in read_results(out_path / "results.jsonl")}
        results_file = ResultsFile(out_path / "results.jsonl", resume)
    wanted = {item.id for item in items}
    finished = {key: value for key, value in done.items() if key in wanted}
    todo = [item for item in items if item.id not in finished]
    stop = threading.Event()
    stopped: str | None = None
    count = _Counter(engine)
    asked = 0

    def report(result: ItemResult) -> None:
        if on_result is None:
            return
        scores = [r.score for r in finished.values()]
        failures = sum(r.error is not None for r in finished.values())
        on_result(Progress(len(finished), len(items), sum(scores) / len(scores), failures, asked, result))

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="glmv-eval") as pool:
            pending: set[Future[ItemResult]] = set()
            queue = iter(todo)
            try:
                while True:
                    while not stop.is_set() and len(pending) < concurrency * 2:
                        item = next(queue, None)
                        if item is None:
                            break
                        pending.add(
                            pool.submit(_evaluate, task, item, engine, protocol, records.base, count, stop)
                        )
                    if not pending:
                        break
                    complete, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in complete:
                        try:
                            result = future.result()
                        except _EngineGone as exc:
                            if stopped is None:
                                stopped = f"The engine went away: {exc}"
                            stop.set()
                            continue
                        finished[result.id] = result
                        asked += 1
                        if results_file is not None:
                            results_file.append(result)
                        report(result)
            except BaseException:
                stop.set()
                for future in pending:
                    future.cancel()
                raise
    finally:
        if results_file is not None:
            results_file.close()
    ordered = [finished[item.id] for item in items if item.id in finished]
    summary = summarize(task, protocol, ordered, planned=len(items), stopped=stopped)
    outcome = Run(task, protocol, ordered, summary, len(items), out_path, stopped)
    if out_path is not None:
        write_reports(outcome.summary, ordered, out_path, plots=plots)
    return outcome
