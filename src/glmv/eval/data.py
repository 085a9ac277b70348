"""Reading benchmark records from local files: JSONL (or a JSON list), parquet, CSV, or a ``datasets`` folder.

A ``datasets`` folder (``Dataset.save_to_disk``) is read from its arrow files with pyarrow; ``datasets`` itself is
not needed. Nothing is downloaded. :func:`read_records` gives the rows as dicts and the column names the file has;
:func:`map_columns` renames the file's columns to a task's names and fails at once, naming the missing columns
and the mapping option, when a task's required columns are absent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError, require

__all__ = ["Records", "map_columns", "read_records"]


@dataclass
class Records:
    """The rows of a data source, the column names it has, and the folder relative media paths start from."""

    rows: list[dict[str, Any]]
    columns: list[str]
    base: Path | None = None
    source: str = "records"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        rows = json.loads(text)
        if not all(isinstance(row, dict) for row in rows):
            raise ConfigError(f"{path}: a JSON data file must be a list of objects.")
        return rows
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            row = {"__error__": f"line {number} is not JSON: {exc}"}
        if not isinstance(row, dict):
            row = {"__error__": f"line {number} is not a JSON object"}
        rows.append(row)
    return rows


def _csv(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        rows = [dict(row) for row in reader]
        return rows, list(reader.fieldnames or [])


def _arrow_files(folder: Path) -> list[Path]:
    if (folder / "dataset_dict.json").exists():
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        raise ConfigError(
            f"{folder} holds several splits ({', '.join(splits)}); point --data at one of them, "
            f"for example {folder / (splits[0] if splits else 'validation')}."
        )
    files = sorted(folder.glob("*.arrow"))
    if not files:
        raise ConfigError(
            f"{folder} is not a datasets folder (no .arrow files); give a JSONL, parquet or CSV file."
        )
    return files


def _arrow_folder(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    require("pyarrow", extra="eval", purpose="reading datasets folders")
    import pyarrow as pa

    tables = []
    for file in _arrow_files(folder):
        with pa.memory_map(str(file)) as source:
            try:
                tables.append(pa.ipc.open_stream(source).read_all())
            except pa.ArrowInvalid:
                tables.append(pa.ipc.open_file(source).read_all())
    table = pa.concat_tables(tables)
    return table.to_pylist(), list(table.column_names)


def _parquet(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    require("pyarrow", extra="eval", purpose="reading parquet files")
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.to_pylist(), list(table.column_names)


def read_records(data: str | Path | Iterable[Mapping[str, Any]]) -> Records:
    """The rows of ``data``: a file path (``.jsonl`` / ``.json``, ``.parquet``, ``.csv`` / ``.tsv``), a
    ``datasets`` save_to_disk folder, or rows already in memory."""
    if not isinstance(data, (str, Path)):
        rows = [dict(row) for row in data]
        columns = sorted({key for row in rows for key in row})
        return Records(rows, columns)
    path = Path(data).expanduser()
    if not path.exists():
        raise ConfigError(f"No data at {path}; give a JSONL, parquet or CSV file or a datasets folder.")
    try:
        rows, columns = _read(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueError / OSError subclasses
        raise ConfigError(f"Cannot read the data {path}: {exc}") from exc
    return Records(rows, columns, base=path if path.is_dir() else path.parent, source=str(path))


def _read(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    if path.is_dir():
        return _arrow_folder(path)
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        rows = _jsonl(path)
        return rows, sorted({key for row in rows for key in row if key != "__error__"})
    if path.suffix == ".parquet":
        return _parquet(path)
    if path.suffix in (".csv", ".tsv"):
        return _csv(path)
    raise ConfigError(
        f"{path}: unknown data format {path.suffix!r}; use .jsonl, .json, .parquet, .csv or .tsv."
    )


def map_columns(
    records: Records,
    required: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    task: str = "the task",
) -> Records:
    """``records`` with the file's columns renamed to the task's names (``mapping``: task name → file column).

    Raises :class:`~glmv.errors.ConfigError` naming every required column the file lacks, the columns it has,
    and the ``--column NAME=COLUMN`` option (``columns={...}`` in the library) that maps them.
    """
    mapping = dict(mapping or {})
    unknown = sorted(source for source in mapping.values() if source not in records.columns)
    if unknown:
        raise ConfigError(
            f"{records.source}: the column mapping names columns the data does not have: {', '.join(unknown)} "
            f"(it has: {', '.join(records.columns)})."
        )
    available = set(records.columns) - set(mapping.values()) | set(mapping)
    missing = [name for name in required if name not in available]
    if missing:
        raise ConfigError(
            f"{records.source} lacks the column(s) {', '.join(missing)} that {task} needs "
            f"(it has: {', '.join(records.columns) or 'none'}). Map your own columns with "
            + " ".join(f"--column {name}=YOUR_COLUMN" for name in missing)
            + " (columns={...} in glmv.eval.run)."
        )
    if not mapping:
        return records
    rows = []
    for row in records.rows:
        renamed = {key: value for key, value in row.items() if key not in mapping.values()}
        for name, source in mapping.items():
            if source in row:
                renamed[name] = row[source]
        rows.append(renamed)
    return Records(rows, sorted(available), records.base, records.source)
