"""What a benchmark task is — load records → build the request → extract → score — and the task registry.

A task subclasses :class:`Task`: it names the columns it needs, turns each record into one or more
:class:`Item` objects (MMBench's circular evaluation makes one per rotation, sharing a ``group``), writes the
official prompt, extracts the prediction from the parsed :class:`~glmv.output.Reply` and scores it.

Built-in tasks are registered exactly as third-party ones: a ``name = "module:Class"`` reference resolved on first
use. Third parties publish theirs under the entry-point group ``glmv.tasks``
(``[project.entry-points."glmv.tasks"] my_bench = "my_pkg.bench:MyBench"``) or call :func:`register_task`.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from glmv.errors import ConfigError

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = [
    "ENTRY_POINT_GROUP",
    "Item",
    "Task",
    "available_tasks",
    "get_task",
    "register_task",
    "task_class",
]

ENTRY_POINT_GROUP = "glmv.tasks"


@dataclass
class Item:
    """One question to ask: the prompt text, the media (record values, resolved when the request is built), the
    gold answer and what the scorer needs besides (``info``). ``error`` marks a bad record: scored 0, not asked.
    Items of one ``group`` (MMBench's rotations of one question) score together: all correct or none."""

    id: str
    question: str = ""
    gold: Any = None
    category: str | None = None
    group: str | None = None
    images: list[Any] = field(default_factory=list)
    videos: list[Any] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    fields: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.group is None:
            self.group = self.id


class Task:
    """A benchmark: its record columns, official prompt, answer extraction and scorer.

    ``required`` columns must exist in the data (else the run fails at once naming them); ``optional`` ones are
    used when present. ``keep_whole_answer`` keeps the whole answer text instead of the boxed part (OCRBench, as
    VLMEvalKit does). ``points`` is the benchmark's total on its own scale (OCRBench: 1,000), reported besides
    the mean. ``metric`` names the rule for the report; ``option_names`` the task options it takes (any other
    is refused, so a typo fails loudly).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    metric: ClassVar[str] = "accuracy"
    required: ClassVar[tuple[str, ...]] = ("question", "answer")
    optional: ClassVar[tuple[str, ...]] = ("id", "category", "image")
    keep_whole_answer: ClassVar[bool] = False
    points: ClassVar[float | None] = None
    prompt_template: ClassVar[str] = "{question}"
    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, prompt: str | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            known = ", ".join(self.option_names) or "none"
            raise ConfigError(
                f"The {self.name} task has no option {', '.join(unknown)} (its options: {known})."
            )
        self.prompt_override = prompt
        self.options = options

    # -- load ------------------------------------------------------------------------------------------------

    def items(self, record: dict[str, Any], index: int) -> list[Item]:
        """The items of one record (most tasks: one); a record missing what the task needs gives an item with
        ``error`` set."""
        item = Item(
            id=str(index if record.get("id") is None else record["id"]),
            category=_text(record.get("category")),
        )
        item.fields = {key: value for key, value in record.items() if isinstance(value, (str, int, float))}
        if "__error__" in record:
            item.error = f"bad record: {record['__error__']}"
            return [item]
        try:
            self.fill(item, record)
        except (KeyError, ValueError, TypeError) as exc:
            item.error = f"bad record: {exc}"
        return [item]

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        """Set the item's question, gold, media and info from ``record`` (raise ValueError if unusable)."""
        item.question = _need(record, "question")
        item.gold = _need(record, "answer")
        item.images = _values(record.get("image"))

    # -- request ---------------------------------------------------------------------------------------------

    def prompt(self, item: Item) -> str:
        """The prompt text: the task's official template (or the run's own ``prompt``) filled from the item."""
        template = self.prompt_override or self.prompt_template
        values = {**item.fields, **self.prompt_fields(item), "question": item.question}
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"The prompt template {template!r} names an unknown field {exc}.") from exc

    def prompt_fields(self, item: Item) -> dict[str, Any]:
        """Extra fields the prompt template may use (``{options}`` for multiple choice)."""
        return {}

    # -- extract and score ------------------------------------------------------------------------------------

    def answer_text(self, reply: Reply) -> str:
        """GLM post-processing: reasoning stripped and ``<answer>`` unwrapped (by :mod:`glmv.output`), then the boxed
        answer when there is one — the whole answer for tasks that keep it."""
        if not self.keep_whole_answer and reply.answer is not None:
            return reply.answer.strip()
        return reply.content.strip()

    def extract(self, reply: Reply, item: Item) -> Any:
        """The prediction the scorer compares (by default the answer text)."""
        return self.answer_text(reply)

    def score(self, prediction: Any, item: Item) -> float:  # pragma: no cover - every task overrides it
        raise NotImplementedError


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _need(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"the record has no {name!r}")
    return value


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [entry for entry in value if entry is not None]
    return [value]


# -- the registry --------------------------------------------------------------------------------------------

_BUILTINS = {
    "ai2d": "glmv.eval.tasks.ai2d:AI2D",
    "chartqa": "glmv.eval.tasks.chartqa:ChartQA",
    "docvqa": "glmv.eval.tasks.docvqa:DocVQA",
    "infovqa": "glmv.eval.tasks.docvqa:InfoVQA",
    "mathvista": "glmv.eval.tasks.mathvista:MathVista",
    "mmbench": "glmv.eval.tasks.mmbench:MMBench",
    "mmmu": "glmv.eval.tasks.mmmu:MMMU",
    "mmstar": "glmv.eval.tasks.mmstar:MMStar",
    "ocrbench": "glmv.eval.tasks.ocrbench:OCRBench",
    "refcoco": "glmv.eval.tasks.refcoco:RefCOCO",
    "screenspot": "glmv.eval.tasks.screenspot:ScreenSpot",
    "screenspot-v2": "glmv.eval.tasks.screenspot:ScreenSpotV2",
    "textvqa": "glmv.eval.tasks.textvqa:TextVQA",
    "videomme": "glmv.eval.tasks.videomme:VideoMME",
}

_registry: dict[str, Any] = {}
_lock = threading.Lock()
_loaded = False


def register_task(name: str, task: Any) -> None:
    """Register a :class:`Task` subclass (or a ``"module:Class"`` reference) under ``name`` (case-insensitive)."""
    with _lock:
        _registry[name.lower()] = task


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name, target in _BUILTINS.items():
        _registry.setdefault(name, target)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _registry.setdefault(entry.name.lower(), entry.value)
    _loaded = True


def available_tasks() -> list[str]:
    """Every registered task name."""
    _load_all()
    return sorted(_registry)


def task_class(name: str) -> type[Task]:
    """The class registered as ``name``; :class:`~glmv.errors.ConfigError` listing the known tasks if none."""
    _load_all()
    key = name.lower()
    target = _registry.get(key)
    if target is None:
        raise ConfigError(f"Unknown eval task {name!r}. Known tasks: {', '.join(available_tasks())}.")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"Eval task {name!r} ({module}:{attr}) cannot be loaded: {exc}") from exc
        register_task(key, target)
    return target


def get_task(task: str | Task, **options: Any) -> Task:
    """A task instance: ``task`` itself when it is one, else the registered class built with ``options``."""
    if isinstance(task, Task):
        return task
    return task_class(task)(**options)
