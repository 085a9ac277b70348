"""Actions as JSON: :func:`action_to_dict` and :func:`action_from_dict`, the shape an agent trajectory records.

Every field of :class:`~glmv.actions.Action` is kept (tuples as lists, ``arguments`` as plain JSON), so a
recorded action reads back equal to the one written (equality leaves out ``raw`` and ``arguments``, which are
kept all the same, their tuples as lists).
"""

from __future__ import annotations

from typing import Any

from glmv.actions.action import Action
from glmv.errors import ConfigError

__all__ = ["action_from_dict", "action_to_dict"]

_TUPLES = ("point", "box", "end_point", "keys")
_FIELDS = (
    "kind",
    "name",
    "dialect",
    "space",
    "point",
    "box",
    "end_point",
    "text",
    "keys",
    "direction",
    "steps",
    "distance",
    "label",
    "app",
    "element",
    "clear",
    "raw",
)


def action_to_dict(action: Action) -> dict[str, Any]:
    """A JSON-ready dict of ``action``."""
    data: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(action, name)
        data[name] = list(value) if name in _TUPLES and value is not None else value
    data["arguments"] = _plain(dict(action.arguments))
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def action_from_dict(data: dict[str, Any]) -> Action:
    """The :class:`Action` a dict of :func:`action_to_dict` describes.

    Raises :class:`~glmv.errors.ConfigError` for a dict without a valid ``kind`` / ``space`` or with an unknown
    field (a record written by something else).
    """
    if not isinstance(data, dict) or "kind" not in data:
        raise ConfigError(f"Not a recorded action (no 'kind'): {data!r:.200}")
    unknown = set(data) - {*_FIELDS, "arguments"}
    if unknown:
        raise ConfigError(f"A recorded action has unknown fields {sorted(unknown)}; was it written by glmv?")
    fields = {name: data[name] for name in _FIELDS if name in data and name != "kind"}
    for name in _TUPLES:
        if fields.get(name) is not None:
            fields[name] = tuple(fields[name])
    try:
        return Action(data["kind"], arguments=data.get("arguments") or {}, **fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"A recorded action cannot be read: {exc}") from exc
