"""The desktop assistant's history: conversations and their media in one SQLite database, searchable (FTS5).

:class:`History` keeps each :class:`glmv.messages.Conversation` as rows of ``conversations`` (title, times,
family, system prompt, request settings) and ``messages`` (one OpenAI chat message each, as JSON), and its text in
the FTS5 table ``conversation_text`` for full-text search; ``groundings`` keeps the boxes and points of the answers that
gave some (by message position), so a reopened conversation draws them again (a stored answer has lost its box
markers). Media travel with the conversation: every local file
and every ``data:`` URI a message points at is copied once into ``media/`` beside the database (named by its
SHA-256) and the stored message points there, so a screenshot deleted later, or a document page, is still shown.
A media file no conversation uses any more is removed with its last conversation. API keys never come here:
a conversation's settings hold request keywords only. Exports are the JSON of ``glmv chat /save``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import mimetypes
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from glmv.errors import ConfigError
from glmv.messages import Conversation
from glmv.output import Box, Point

__all__ = ["ConversationSummary", "History"]

DATABASE_FILE = "history.sqlite3"
_TITLE_LENGTH = 60
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    family TEXT NOT NULL,
    system TEXT,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE TABLE IF NOT EXISTS media (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (conversation_id, name)
);
CREATE TABLE IF NOT EXISTS groundings (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    shapes TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE VIRTUAL TABLE IF NOT EXISTS conversation_text USING fts5(title, body, conversation_id UNINDEXED);
"""
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ConversationSummary:
    """One line of the history list: ``snippet`` shows where a search matched (empty when not searching)."""

    id: int
    title: str
    updated: float
    messages: int
    snippet: str = ""


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        texts = [content]
    else:
        texts = [part.get("text", "") for part in content or [] if part.get("type") == "text"]
    return "\n".join(text for text in texts if text)


def _title(conversation: Conversation) -> str:
    for message in conversation.messages:
        if message.get("role") == "user":
            text = " ".join(_text_of(message).split())
            if text:
                return text if len(text) <= _TITLE_LENGTH else text[: _TITLE_LENGTH - 1] + "…"
            return "Untitled (media only)"
    return "New conversation"


def _shapes_json(shapes: Sequence[Box | Point]) -> str:
    """Boxes and points as JSON: ``{"box": [x1, y1, x2, y2]}`` / ``{"point": [x, y]}``, with their labels."""
    return json.dumps(
        [
            {"box" if isinstance(shape, Box) else "point": shape.as_list(), "label": shape.label}
            for shape in shapes
        ]
    )


def _shapes_of(text: str) -> list[Box | Point]:
    return [
        Box(*item["box"], label=item["label"])
        if "box" in item
        else Point(*item["point"], label=item["label"])
        for item in json.loads(text)
    ]


def _fts_query(text: str) -> str:
    """The user's words as an FTS5 query (each a quoted prefix, all required): no FTS syntax reaches SQLite."""
    return " ".join(f'"{word}"*' for word in _WORD.findall(text))


class History:
    """The history database in ``folder`` (created when missing): save, list, search, load, rename, delete,
    export conversations."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.media_dir = self.folder / "media"
        self.captures_dir = self.folder / "captures"
        """Where screenshots, recordings and pasted images are written before they are sent."""
        try:
            self.media_dir.mkdir(parents=True, exist_ok=True)
            self.captures_dir.mkdir(exist_ok=True)
            self._db = sqlite3.connect(self.folder / DATABASE_FILE)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"Cannot open the history in {self.folder}: {exc}. Check the folder is writable, or choose "
                "another with --data-dir."
            ) from exc

    def close(self) -> None:
        self._db.close()

    # ---- media ----------------------------------------------------------------------------------------------

    def _store_bytes(self, data: bytes, suffix: str) -> str:
        name = hashlib.sha256(data).hexdigest()[:32] + suffix
        target = self.media_dir / name
        if not target.exists():
            temporary = target.with_suffix(target.suffix + ".tmp")
            temporary.write_bytes(data)
            temporary.replace(target)
        return name

    def _store_url(self, url: str) -> str | None:
        """The media file name ``url`` is kept under (copied now), or None for a URL left as it is (http)."""
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            mime = header[5:].split(";")[0]
            try:
                data = (
                    base64.b64decode(payload, validate=False)
                    if ";base64" in header
                    else unquote(payload).encode()
                )
            except (binascii.Error, ValueError):
                return None
            return self._store_bytes(data, mimetypes.guess_extension(mime or "") or ".bin")
        path = Path(unquote(urlparse(url).path)) if url.startswith("file://") else Path(url)
        if "://" in url and not url.startswith("file://"):
            return None
        if path.parent == self.media_dir:
            return path.name
        try:
            return self._store_bytes(path.read_bytes(), path.suffix.lower())
        except OSError:
            return None  # gone already: the message keeps its path, loading shows it missing

    def _with_stored_media(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
        stored = copy.deepcopy(messages)
        names: set[str] = set()
        for message in stored:
            content = message.get("content")
            for part in content if isinstance(content, list) else []:
                kind = part.get("type")
                if kind not in ("image_url", "video_url"):
                    continue
                name = self._store_url(part[kind]["url"])
                if name is not None:
                    part[kind]["url"] = str(self.media_dir / name)
                    names.add(name)
        return stored, names

    # ---- conversations --------------------------------------------------------------------------------------

    def save(
        self,
        conversation: Conversation,
        conversation_id: int | None = None,
        title: str | None = None,
        groundings: Mapping[int, Sequence[Box | Point]] | None = None,
    ) -> int:
        """Store ``conversation`` (as new, or replacing ``conversation_id``); its id is returned. The title is
        kept on later saves unless ``title`` is given. ``groundings`` (message position → the boxes and points
        of that answer) replaces the stored ones."""
        messages, names = self._with_stored_media(conversation.messages)
        now = time.time()
        settings = json.dumps(conversation.settings)
        body = "\n".join(_text_of(message) for message in messages)
        with self._db:
            if conversation_id is None:
                cursor = self._db.execute(
                    "INSERT INTO conversations (title, created, updated, family, system, settings) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        title or _title(conversation),
                        now,
                        now,
                        conversation.family.name,
                        conversation.system,
                        settings,
                    ),
                )
                conversation_id = int(cursor.lastrowid)
            else:
                self._row(conversation_id)
                current = title or self._title_of(conversation_id)
                if current in ("New conversation", "Untitled (media only)"):
                    current = _title(conversation)
                self._db.execute(
                    "UPDATE conversations SET title = ?, updated = ?, family = ?, system = ?, settings = ? "
                    "WHERE id = ?",
                    (current, now, conversation.family.name, conversation.system, settings, conversation_id),
                )
                self._db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
                self._db.execute("DELETE FROM media WHERE conversation_id = ?", (conversation_id,))
                self._db.execute("DELETE FROM groundings WHERE conversation_id = ?", (conversation_id,))
            self._db.executemany(
                "INSERT INTO messages (conversation_id, position, message) VALUES (?, ?, ?)",
                [(conversation_id, i, json.dumps(m, ensure_ascii=False)) for i, m in enumerate(messages)],
            )
            self._db.executemany(
                "INSERT INTO media (conversation_id, name) VALUES (?, ?)",
                [(conversation_id, n) for n in names],
            )
            self._db.executemany(
                "INSERT INTO groundings (conversation_id, position, shapes) VALUES (?, ?, ?)",
                [
                    (conversation_id, position, _shapes_json(shapes))
                    for position, shapes in (groundings or {}).items()
                    if shapes and 0 <= position < len(messages)
                ],
            )
            self._index(conversation_id, body)
        self._remove_unused_media()
        return conversation_id

    def _index(self, conversation_id: int, body: str | None = None) -> None:
        title = self._title_of(conversation_id)
        if body is None:
            row = self._db.execute(
                "SELECT body FROM conversation_text WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            body = row[0] if row else ""
        self._db.execute("DELETE FROM conversation_text WHERE conversation_id = ?", (conversation_id,))
        self._db.execute(
            "INSERT INTO conversation_text (title, body, conversation_id) VALUES (?, ?, ?)",
            (title, body, conversation_id),
        )

    def _row(self, conversation_id: int) -> tuple[Any, ...]:
        row = self._db.execute(
            "SELECT title, family, system, settings FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConfigError(f"There is no conversation {conversation_id} in the history (was it deleted?).")
        return row

    def _title_of(self, conversation_id: int) -> str:
        return self._row(conversation_id)[0]

    def load(self, conversation_id: int) -> Conversation:
        """The conversation stored as ``conversation_id`` (media not re-checked: a missing one shows as missing)."""
        _, family, system, settings = self._row(conversation_id)
        rows = self._db.execute(
            "SELECT message FROM messages WHERE conversation_id = ? ORDER BY position", (conversation_id,)
        ).fetchall()
        data = {
            "format": "glmv.conversation",
            "version": 1,
            "family": family,
            "system": system,
            "settings": json.loads(settings),
            "messages": [json.loads(row[0]) for row in rows],
        }
        return Conversation.from_dict(
            data, where=f"conversation {conversation_id} of the history", check_files=False
        )

    def groundings(self, conversation_id: int) -> dict[int, list[Box | Point]]:
        """Message position → the boxes and points that answer gave, for the answers that gave some."""
        self._row(conversation_id)
        rows = self._db.execute(
            "SELECT position, shapes FROM groundings WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        ).fetchall()
        return {int(position): _shapes_of(shapes) for position, shapes in rows}

    def title(self, conversation_id: int) -> str:
        return self._title_of(conversation_id)

    def conversations(self, search: str = "") -> list[ConversationSummary]:
        """Every conversation, newest first; with ``search``, those whose title or text hold every word of it
        (as word prefixes), best match first, with a snippet."""
        counts = "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)"
        query = _fts_query(search)
        if not query:
            rows = self._db.execute(
                f"SELECT c.id, c.title, c.updated, {counts}, '' FROM conversations c ORDER BY c.updated DESC"
            ).fetchall()
        else:
            rows = self._db.execute(
                f"SELECT c.id, c.title, c.updated, {counts}, "
                "snippet(conversation_text, 1, '[', ']', '…', 8) "
                "FROM conversation_text t JOIN conversations c ON c.id = t.conversation_id "
                "WHERE conversation_text MATCH ? ORDER BY t.rank",
                (query,),
            ).fetchall()
        return [ConversationSummary(int(r[0]), r[1], float(r[2]), int(r[3]), r[4]) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ConfigError("A conversation title cannot be empty.")
        self._row(conversation_id)
        with self._db:
            self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            self._index(conversation_id)

    def delete(self, conversation_id: int) -> None:
        """Forget the conversation, and the media files no other conversation uses."""
        self._row(conversation_id)
        with self._db:
            self._db.execute("DELETE FROM conversation_text WHERE conversation_id = ?", (conversation_id,))
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._remove_unused_media()

    def export(self, conversation_id: int, path: str | Path, embed_media: bool = True) -> Path:
        """Write the conversation to ``path`` as ``glmv chat /save`` does (media embedded by default, so the
        file travels alone; ``glmv chat --load`` continues it)."""
        return self.load(conversation_id).save(path, embed_media=embed_media)

    def _remove_unused_media(self) -> None:
        used = {row[0] for row in self._db.execute("SELECT DISTINCT name FROM media")}
        for path in self._media_files():
            if path.name not in used:
                path.unlink(missing_ok=True)

    def _media_files(self) -> Iterator[Path]:
        return (path for path in self.media_dir.iterdir() if path.is_file())
