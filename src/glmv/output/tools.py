"""Tool-call pieces of the parser: declared tools, name validation and typing argument values by schema.

GLM writes argument values as raw text (``<arg_value>42</arg_value>``); the tool's JSON Schema says what they
are. A call is typed once it is complete, so every argument it carries can inform every other one.

**What a property allows** comes from ``type`` (a name or a list), ``enum`` / ``const`` members,
``anyOf`` / ``oneOf`` (any branch) and ``allOf`` (every branch), following ``$ref`` into the parameters'
``$defs`` / ``definitions`` (JSON pointers, ``~1`` / ``~0`` escapes, refs to refs; a ref cycle or a ref
that points nowhere says nothing). **Alternatives of the whole parameters object** (``oneOf`` / ``anyOf``
branches with their own ``properties``, ``allOf`` parts merged in) are narrowed by the call's own
discriminators: a branch whose ``const`` / ``enum`` property disagrees with a value the call carries is
dropped (unless that drops every branch), whether the discriminator came before or after the value. A
schema walk is bounded (depth, branches, schemas visited), so a request's schema cannot stall the parser.

**Typing one value** (:func:`type_value`), in this order:

1. a text that is an ``enum`` / ``const`` member reads as that member, matched to the member's own type
   (``enum: ["7", 8]``: ``7`` gives ``"7"``, ``8`` gives ``8``; ``null`` gives None where null is a member);
2. ``null`` (surrounding whitespace aside) where the schema allows null (``"type": "null"``, a type list
   or an ``anyOf`` / ``oneOf`` branch with it) is None; where null is not allowed, a string property keeps
   the text ``"null"``;
3. a plain ``string`` property (optionally nullable) keeps the text exactly as written, whitespace included;
4. any other declared type is read with ``json.loads``, then ``ast.literal_eval``, else kept raw; a quoted
   number (``"123"``) for a ``number`` / ``integer`` property that does not allow strings is the number; with
   ``string`` among several types a parsed value is kept only when its type is one of the others;
5. without a schema for the value, JSON-looking text (numbers, ``true``/``false``/``null``, objects, arrays,
   quoted strings) is parsed and anything else stays raw.

Non-finite numbers (``NaN``, ``1e999``) are never produced: such text stays raw.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

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
_MAX_DEPTH = 32  # nesting of schemas (refs, combinators) followed at most
_MAX_ALTERNATIVES = 64  # alternatives of one parameters object kept at most
_MAX_VISITS = 2000  # schemas visited at most per walk (refs shared between branches can multiply them)
_EMPTY: Mapping[str, Any] = {}

_Kind = tuple[frozenset[str], tuple[Any, ...]]  # the JSON types a value may have, and its enum/const members
_UNKNOWN: _Kind = (frozenset(), ())


def is_valid_name(name: str) -> bool:
    """Whether ``name`` can be a function name (letters, digits, ``_ . - :``; no spaces, no markup)."""
    return bool(_NAME.fullmatch(name)) and len(name) <= 256


# -- JSON values ------------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``1 != True`` and ``"1" != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _type_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    for name in ("string", "null", "array", "object"):
        if isinstance(value, _JSON_TYPES[name]):
            return name
    return None


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


def _number(text: str) -> int | float | None:
    """The number a quoted numeric string holds (``"123"`` → 123), else None."""
    ok, value = _loads(text.strip())
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _matches(value: Any, types: Collection[str]) -> bool:
    for name in types:
        expected = _JSON_TYPES[name]
        if name in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, expected):
            return True
    return False


def _member(raw: str, text: str, members: Sequence[Any]) -> tuple[bool, Any]:
    """The enum/const member ``raw`` spells, matched to the member's own type first as text, then as JSON."""
    for candidate in (raw, text):
        if any(isinstance(m, str) and m == candidate for m in members):
            return True, candidate
    for reader in (_loads, _literal):
        ok, value = reader(text)
        if ok:
            for member in members:
                if _same(value, member):
                    return True, member
    return False, None


def type_value(raw: str, types: Collection[str] | None, members: Sequence[Any] = ()) -> Any:
    """``raw`` (the text between ``<arg_value>`` tags) typed for a property allowing ``types`` / ``members``.

    ``types`` None or empty and no ``members``: no schema, guess. The rules are in the module docstring.
    """
    text = raw.strip()
    if members:
        found, value = _member(raw, text, members)
        if found:
            return value
    types = set(types or ()) & set(_JSON_TYPES)
    if "null" in types and text == "null":
        return None
    if types and types <= {"string", "null"}:
        return raw
    if not types:
        if text[:1] not in _GUESS_START:
            return raw
        ok, value = _loads(text)
        return value if ok else raw
    for reader in (_loads, _literal):
        ok, value = reader(text)
        if not ok:
            continue
        if "string" not in types:
            if isinstance(value, str) and types & {"integer", "number"}:
                number = _number(value)
                return value if number is None else number
            return value
        if not isinstance(value, str) and _matches(value, types):
            return value
    return raw


# -- schemas ----------------------------------------------------------------------------------------------


def _pointer(root: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    """The schema a local ``$ref`` (``#/$defs/a~1b``) points at inside ``root``; None when it points nowhere."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    fragment = unquote(ref[1:])
    for part in fragment.split("/")[1:] if fragment else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if isinstance(node, Mapping) else None


class _Schema:
    """One tool's parameters schema: its alternatives and what each property allows."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self._root = parameters
        self._alternatives: list[dict[str, tuple[Mapping[str, Any], ...]]] | None = None
        self._kinds: dict[tuple[int, ...], _Kind] = {}
        self._visits = 0  # left in the current walk

    def resolve(
        self, schema: Any, trail: frozenset[str] = frozenset()
    ) -> tuple[Mapping[str, Any], frozenset]:
        """``schema`` with its ``$ref`` chain followed (sibling keywords kept); a cycle gives an empty schema."""
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            target = _pointer(self._root, ref)
            if ref in trail or target is None or len(trail) >= _MAX_DEPTH:
                return _EMPTY, trail
            trail = trail | {ref}
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if siblings else target
        return (schema if isinstance(schema, Mapping) else _EMPTY), trail

    def alternatives(self) -> list[dict[str, tuple[Mapping[str, Any], ...]]]:
        """The shapes the arguments object may take: per shape, each property's schemas (all must hold)."""
        if self._alternatives is None:
            self._visits = _MAX_VISITS
            self._alternatives = self._expand(self._root, frozenset(), 0)
        return self._alternatives

    def property_kind(self, schemas: tuple[Mapping[str, Any], ...]) -> _Kind:
        """What a property allows whose schemas (from one shape of :meth:`alternatives`) must all hold."""
        key = tuple(map(id, schemas))
        if key not in self._kinds:
            self._visits = _MAX_VISITS
            kind = self._kind(schemas[0])
            for sub in schemas[1:]:
                kind = _both(kind, self._kind(sub))
            self._kinds[key] = kind
        return self._kinds[key]

    def _expand(
        self, schema: Any, trail: frozenset, depth: int
    ) -> list[dict[str, tuple[Mapping[str, Any], ...]]]:
        schema, trail = self.resolve(schema, trail)
        self._visits -= 1
        if depth > _MAX_DEPTH or self._visits < 0:
            return [{}]
        properties = schema.get("properties")
        base = {}
        if isinstance(properties, Mapping):
            base = {key: (sub,) for key, sub in properties.items() if isinstance(sub, Mapping)}
        shapes = [base]
        for sub in _list(schema.get("allOf")):
            shapes = _product(shapes, self._expand(sub, trail, depth + 1))
        for key in ("anyOf", "oneOf"):
            branches = [
                shape for sub in _list(schema.get(key)) for shape in self._expand(sub, trail, depth + 1)
            ]
            if branches:
                shapes = _product(shapes, branches)
        return shapes

    def _kind(self, schema: Any, trail: frozenset = frozenset(), depth: int = 0) -> _Kind:
        """The JSON types and enum/const members one property schema allows (empty: it says nothing)."""
        schema, trail = self.resolve(schema, trail)
        self._visits -= 1
        if depth > _MAX_DEPTH or self._visits < 0:
            return _UNKNOWN
        types: set[str] = set()
        declared = schema.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(t for t in declared if isinstance(t, str))
        enum = schema.get("enum")
        members = list(enum) if isinstance(enum, list) else []
        if "const" in schema:
            members.append(schema["const"])
        types.update(t for t in map(_type_of, members) if t is not None)
        for key in ("anyOf", "oneOf"):
            for sub in _list(schema.get(key)):
                sub_types, sub_members = self._kind(sub, trail, depth + 1)
                types |= sub_types
                members.extend(sub_members)
        kind: _Kind = (frozenset(types & set(_JSON_TYPES)), tuple(members))
        for sub in _list(schema.get("allOf")):
            kind = _both(kind, self._kind(sub, trail, depth + 1))
        return kind


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _product(left: list[dict], right: list[dict]) -> list[dict]:
    """Every shape of ``left`` combined with every shape of ``right`` (schemas of a shared key both hold)."""
    combined = []
    for a in left:
        for b in right:
            merged = dict(a)
            for key, schemas in b.items():
                merged[key] = merged.get(key, ()) + schemas
            combined.append(merged)
            if len(combined) >= _MAX_ALTERNATIVES:
                return combined
    return combined


def _both(a: _Kind, b: _Kind) -> _Kind:
    """What two schemas that must both hold allow (a contradiction, or one saying nothing, keeps the other)."""
    (a_types, a_members), (b_types, b_members) = a, b
    types = set(a_types & b_types)
    if ("number" in a_types and "integer" in b_types) or ("integer" in a_types and "number" in b_types):
        types.add("integer")
    return frozenset(types or a_types | b_types), a_members + b_members


def _union(kinds: Iterable[_Kind]) -> _Kind:
    types: set[str] = set()
    members: list[Any] = []
    for kind_types, kind_members in kinds:
        types |= kind_types
        members.extend(kind_members)
    return frozenset(types), tuple(members)


class ToolSchemas:
    """The tools of one request, for name validation and argument typing.

    Accepts the OpenAI shape (``{"type": "function", "function": {"name", "parameters"}}``) or bare
    ``{"name", "parameters"}`` dicts. With no tools, every valid name is accepted and values are guessed.
    """

    def __init__(self, tools: Iterable[Mapping[str, Any]] | None = None) -> None:
        self._schemas: dict[str, _Schema] = {}
        self.declared = tools is not None
        for tool in tools or ():
            function = tool.get("function", tool) if isinstance(tool, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                continue
            parameters = function.get("parameters")
            self._schemas[function["name"]] = _Schema(parameters if isinstance(parameters, Mapping) else {})

    def accepts(self, name: str) -> bool:
        """Whether a call to ``name`` is kept: a valid name, and a declared one when tools were given."""
        if not is_valid_name(name):
            return False
        return not self.declared or name in self._schemas

    def type_arguments(self, name: str, raw: Mapping[str, str | None]) -> dict[str, Any]:
        """The arguments of one complete call to ``name``, typed: ``raw`` maps each key to its value text.

        A key with no value (None) stays None. Alternatives of the parameters schema are first narrowed by
        the discriminators among ``raw`` (see the module docstring); nothing carries over between calls.
        """
        schema = self._schemas.get(name)
        if schema is None:
            return {key: None if text is None else type_value(text, None) for key, text in raw.items()}
        shapes = schema.alternatives()
        if len(shapes) > 1:
            fitting = [shape for shape in shapes if self._fits(schema, shape, raw)]
            shapes = fitting or shapes
        typed: dict[str, Any] = {}
        for key, text in raw.items():
            if text is None:
                typed[key] = None
                continue
            kinds = [schema.property_kind(shape[key]) for shape in shapes if key in shape]
            typed[key] = type_value(text, *_union(kinds)) if kinds else type_value(text, None)
        return typed

    @staticmethod
    def _fits(schema: _Schema, shape: Mapping[str, tuple], raw: Mapping[str, str | None]) -> bool:
        """Whether no value of the call contradicts an enum/const property of this shape."""
        for key, text in raw.items():
            if text is None or key not in shape:
                continue
            _, members = schema.property_kind(shape[key])
            if members and not _member(text, text.strip(), members)[0]:
                return False
        return True
