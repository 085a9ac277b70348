"""Converting what users have into a LLaMA-Factory or ms-swift dataset for one GLM-V family.

:func:`load_samples` reads files and folders into samples (problems where a record cannot be read);
:func:`convert` turns samples (or raw record dicts) into target records, leaving out each sample with a problem
that would break training and keeping the problem; :func:`convert_files` does both and writes the dataset
folder: ``data.jsonl``, ``media/`` (every medium linked or copied, referred to by relative path) and, for
LLaMA-Factory, ``dataset_info.json``. With ``strict=True`` the first problem stops the conversion and nothing is
written. Nothing is ever written over an input.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError, MediaError
from glmv.families import Family, get_family
from glmv.finetune.check import sample_problems
from glmv.finetune.media import LinkMode, MediaStore
from glmv.finetune.records import Record, read_records
from glmv.finetune.sample import Problem, Sample
from glmv.finetune.sources import record_to_sample
from glmv.finetune.targets import TARGETS, ToolCallFormat, dataset_info, to_record

__all__ = ["DATASET_NAME", "DATA_FILE", "ConvertResult", "convert", "convert_files", "load_samples"]

DATA_FILE = "data.jsonl"
DATASET_NAME = "glmv_data"


@dataclass
class ConvertResult:
    """What a conversion produced: one target record per converted sample, the problems, the samples passed over.

    ``stopped`` is set when ``strict`` stopped at a problem; ``output`` is the dataset folder when one was written.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0
    stopped: bool = False
    output: Path | None = None

    @property
    def dropped(self) -> int:
        """Samples (or unreadable records) left out because of a problem that would break training."""
        return len({p.where for p in self.problems if p.fatal})


def _is_sample(data: Any) -> bool:
    """False for the lines of an agent trajectory that hold no step to learn from: the ``run`` header, the
    ``end`` line and failed steps (no readable action)."""
    if not isinstance(data, dict) or data.get("type") not in ("run", "step", "end"):
        return True
    return data["type"] == "step" and not data.get("error") and data.get("status") != "failed"


def _passed(data: Any) -> bool:
    """A ``glmv eval`` result that passed: ``passed`` true, or (without that field) a ``score`` of at least 1."""
    if not isinstance(data, dict):
        return False
    if "passed" in data:
        return data["passed"] is True
    score = data.get("score")
    return (
        isinstance(score, (int, float))
        and not isinstance(score, bool)
        and score >= 1
        and not data.get("error")
    )


def load_samples(paths: Iterable[str | Path], *, passed_only: bool = False) -> Iterator[Sample | Problem]:
    """The samples of files and folders (:mod:`glmv.finetune.sources`), a :class:`Problem` where one cannot be
    read. ``passed_only`` keeps only passing ``glmv eval`` results (``passed`` true, else ``score`` >= 1); the
    header, end and failed-step lines of a ``glmv agent`` trajectory are passed over."""
    for item in read_records(paths):
        if isinstance(item, Problem):
            yield item
        elif not _is_sample(item.data) or (passed_only and not _passed(item.data)):
            continue
        else:
            yield record_to_sample(item)


def _as_samples(items: Iterable[Sample | Problem | Record | dict[str, Any]]) -> Iterator[Sample | Problem]:
    for number, item in enumerate(items, start=1):
        if isinstance(item, (Sample, Problem)):
            yield item
        elif isinstance(item, Record):
            yield record_to_sample(item)
        else:
            yield record_to_sample(Record(item, f"record {number}", Path.cwd()))


def _lossy(sample: Sample, target: str, tool_calls: str) -> list[Problem]:
    if target != "llamafactory" or tool_calls == "inline":
        return []
    return [
        Problem(
            sample.id,
            sample.where,
            "lossy",
            f"messages[{i}]: LLaMA-Factory's function_call keeps no text beside "
            "the tool calls; the text is dropped",
            fatal=False,
        )
        for i, m in enumerate(sample.messages)
        if m["role"] == "assistant" and m["tool_calls"] and m["content"].strip()
    ]


def convert(
    items: Iterable[Sample | Problem | Record | dict[str, Any]],
    family: Family | str,
    target: str,
    *,
    store: MediaStore | None = None,
    strict: bool = False,
    tool_calls: ToolCallFormat = "framework",
) -> ConvertResult:
    """Convert samples (or record dicts of any shape :mod:`glmv.finetune.sources` reads) into ``target`` records
    (``llamafactory`` or ``swift``) for ``family``. Media go into ``store`` when given; a sample with a fatal
    problem is left out and its problems kept; ``strict`` stops at the first problem. ``tool_calls`` is
    ``framework`` (each framework's tool messages) or ``inline`` (GLM text; see :func:`~glmv.finetune.to_record`)."""
    family = get_family(family)
    if target not in TARGETS:
        raise ConfigError(f"Unknown target {target!r}; use one of: {', '.join(TARGETS)}.")
    if tool_calls not in ("framework", "inline"):
        raise ConfigError(f"Unknown tool-call format {tool_calls!r}; use framework or inline.")
    result = ConvertResult()
    for sample in _as_samples(items):
        found = (
            [sample]
            if isinstance(sample, Problem)
            else [*sample_problems(sample, family), *_lossy(sample, target, tool_calls)]
        )
        result.problems += found
        if strict and found:
            result.stopped = True
            break
        if isinstance(sample, Problem) or any(p.fatal for p in found):
            continue
        try:
            record = to_record(sample, family, target, store, tool_calls)
        except MediaError as exc:
            result.problems.append(Problem(sample.id, sample.where, "missing-media", str(exc)))
            if strict:
                result.stopped = True
                break
            continue
        result.records.append(record)
        result.samples.append(sample)
    return result


def _inputs(paths: Iterable[str | Path]) -> list[Path]:
    return [Path(p).expanduser().resolve() for p in paths]


def _refuse_overwrite(inputs: list[Path], output: Path) -> None:
    """Refuse an output folder that holds an input, or lies inside an input folder."""
    for given in inputs:
        if given.is_relative_to(output) or (given.is_dir() and output.is_relative_to(given)):
            raise ConfigError(
                f"The output folder {output} would mix with the input {given}; choose an -o folder apart from "
                "the inputs (glmv never writes over its input)."
            )


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def convert_files(
    inputs: Iterable[str | Path],
    output: str | Path,
    family: Family | str,
    target: str,
    *,
    strict: bool = False,
    passed_only: bool = False,
    link: LinkMode = "hardlink",
    tool_calls: ToolCallFormat = "framework",
) -> ConvertResult:
    """Read ``inputs``, convert them for ``family`` and write the ``target`` dataset folder ``output`` (see the
    module docstring). Returns the :class:`ConvertResult`; with ``strict`` and a problem, nothing is written."""
    paths = _inputs(inputs)
    folder = Path(output).expanduser().resolve()
    _refuse_overwrite(paths, folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"The output {folder} is a file; -o names a folder for the dataset.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".glmv-data-", dir=folder.parent))
    try:
        store = MediaStore(folder, link)
        store.media = staging / "media"
        result = convert(
            load_samples(paths, passed_only=passed_only),
            family,
            target,
            store=store,
            strict=strict,
            tool_calls=tool_calls,
        )
        if result.stopped:
            return result
        folder.mkdir(parents=True, exist_ok=True)
        if store.media.exists():
            (folder / "media").mkdir(exist_ok=True)
            for item in store.media.iterdir():
                os.replace(item, folder / "media" / item.name)
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in result.records)
        _write_atomic(folder / DATA_FILE, lines)
        if target == "llamafactory":
            _write_atomic(
                folder / "dataset_info.json",
                json.dumps(dataset_info(DATASET_NAME, DATA_FILE), indent=2) + "\n",
            )
        result.output = folder
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
