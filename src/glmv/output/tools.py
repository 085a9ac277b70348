"""Tool-call pieces of the parser: declared tools, name validation and typing argument values by schema.

GLM writes argument values as raw text (``<arg_value>42</arg_value>``). A value whose property is a plain
``string`` in the tool's JSON schema stays exactly as written (whitespace included). Any other declared type
is read with ``json.loads``, then ``ast.literal_eval``, else kept raw. Types come from ``type`` (a name or a
list), ``enum`` / ``const`` values and ``anyOf`` / ``oneOf`` / ``allOf``. Without a schema for the value,
JSON-looking text (numbers, ``true``/``false``/``null``, objects, arrays, quoted strings) is parsed and
anything else stays raw. Non-finite numbers (``NaN``, ``1e999``) are never produced: such text stays raw.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ToolSchemas", "is_valid_name", "type_value"]

_NAME = re.compile(r"[\w.\-:]+")
_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}
_GUESS_START = set('{["-0123456789tfn"')


def is_valid_name(name: str) -> bool:
    """Whether ``name`` can be a function name (letters, digits, ``_ . - :``; no spaces, no markup)."""
    return bool(_NAME.fullmatch(name)) and len(name) <= 256


def _schema_types(schema: Any, depth: int = 0) -> set[str]:
    """The JSON types a property schema allows; empty when the schema says nothing usable."""
    if not isinstance(schema, Mapping) or depth > 16:
        return set()
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(t for t in declared if isinstance(t, str))
    values = list(schema.get("enum") or [])
    if "const" in schema:
        values.append(schema["const"])
    for value in values:
        if isinstance(value, bool):
            types.add("boolean")
        elif isinstance(value, str):
            types.add("string")
        elif isinstance(value, int):
            types.add("integer")
        elif isinstance(value, float):
            types.add("number")
        elif value is None:
            types.add("null")
        elif isinstance(value, list):
            types.add("array")
        elif isinstance(value, dict):
            types.add("object")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            types |= _schema_types(sub, depth + 1)
    return types & set(_JSON_TYPES)


def _finite_json(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def _loads(text: str) -> tuple[bool, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False, None
    return _finite_json(value), value


def _literal(text: str) -> tuple[bool, Any]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    if not _finite_json(value):
        return False, None
    return True, json.loads(json.dumps(value, ensure_ascii=False))


def _matches(value: Any, types: set[str]) -> bool:
    for name in types:
        expected = _JSON_TYPES[name]
        if name in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, expected):
            return True
    return False


def type_value(raw: str, types: set[str] | None) -> Any:
    """``raw`` (the text between ``<arg_value>`` tags) typed for a property allowing ``types``.

    ``types`` None or empty: no schema, guess. ``{"string"}`` (optionally with ``"null"``): raw text.
    Otherwise JSON, then a Python literal, then raw; with ``"string"`` among several types a parsed value is
    kept only when its type is one of the others.
    """
    if types and types <= {"string", "null"}:
        return raw
    text = raw.strip()
    if not types:
        if text[:1] not in _GUESS_START:
            return raw
        ok, value = _loads(text)
        return value if ok else raw
    for reader in (_loads, _literal):
        ok, value = reader(text)
        if ok and ("string" not in types or (not isinstance(value, str) and _matches(value, types))):
            return value
    return raw


class ToolSchemas:
    """The tools of one request, for name validation and argument typing.

    Accepts the OpenAI shape (``{"type": "function", "function": {"name", "parameters"}}``) or bare
    ``{"name", "parameters"}`` dicts. With no tools, every valid name is accepted and values are guessed.
    """

    def __init__(self, tools: Iterable[Mapping[str, Any]] | None = None) -> None:
        self._properties: dict[str, Mapping[str, Any]] = {}
        self.declared = tools is not None
        for tool in tools or ():
            function = tool.get("function", tool) if isinstance(tool, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                continue
            parameters = function.get("parameters") or {}
            properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
            self._properties[function["name"]] = properties if isinstance(properties, Mapping) else {}

    def accepts(self, name: str) -> bool:
        """Whether a call to ``name`` is kept: a valid name, and a declared one when tools were given."""
        if not is_valid_name(name):
            return False
        return not self.declared or name in self._properties

    def types(self, name: str, key: str) -> set[str]:
        """The JSON types the schema allows for argument ``key`` of tool ``name`` (empty: unknown)."""
        return _schema_types(self._properties.get(name, {}).get(key))

    def streams_raw(self, name: str, key: str) -> bool:
        """Whether the value of ``key`` is kept as raw text (so it can stream character by character)."""
        types = self.types(name, key)
        return bool(types) and types <= {"string", "null"}
