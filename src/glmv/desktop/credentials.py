"""Where the desktop assistant keeps its API key: the OS keyring when there is one, else a user-only file.

With the ``keyring`` library and a real backend (macOS Keychain, Windows Credential Locker, the Secret Service of
GNOME / KDE), the key is stored under the service :data:`SERVICE`, named by the settings folder (two folders, two
keys). Without one (``keyring`` missing, or only its fail / null backends, as on a server or in a container) it goes
to ``credentials.json`` in the settings folder with mode ``0600``, as before. A keyring that refuses (locked, no
D-Bus) falls back to the file too. The key is never written into ``settings.json`` or the history database.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError

__all__ = ["SERVICE", "key_storage", "load_api_key", "store_api_key", "write_atomically"]

SERVICE = "glmv desktop"
CREDENTIALS_FILE = "credentials.json"


def _keyring() -> Any:
    """The ``keyring`` module when it has a backend that really stores secrets, else None."""
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if getattr(backend, "backends", None) == []:  # a chainer that found no backend
        return None
    return keyring


def _account(folder: Path) -> str:
    return str(folder.expanduser().absolute())


def key_storage() -> str:
    """Where a saved key goes here, in words: the keyring backend's name, or the user-only file."""
    keyring = _keyring()
    if keyring is None:
        return f"{CREDENTIALS_FILE} in the settings folder (mode 0600; no OS keyring is available)"
    backend = keyring.get_keyring()
    return f"the OS keyring ({getattr(backend, 'name', type(backend).__name__)})"


def write_atomically(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` with file ``mode`` from its first byte (a temporary file renamed over it)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def store_api_key(folder: str | Path, api_key: str) -> str:
    """Keep ``api_key`` for the settings in ``folder`` (an empty key forgets it); returns ``"keyring"`` or
    ``"file"``, where it went. The other place is cleared, so a key moved to the keyring leaves no file behind."""
    folder = Path(folder)
    credentials = folder / CREDENTIALS_FILE
    keyring = _keyring()
    if keyring is not None:
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            if api_key:
                keyring.set_password(SERVICE, _account(folder), api_key)
            else:
                with contextlib.suppress(PasswordDeleteError):  # there was none
                    keyring.delete_password(SERVICE, _account(folder))
        except KeyringError:
            keyring = None  # locked or unreachable: the file it is
        else:
            credentials.unlink(missing_ok=True)
            return "keyring"
    if api_key:
        write_atomically(credentials, json.dumps({"api_key": api_key}) + "\n", 0o600)
    else:
        credentials.unlink(missing_ok=True)
    return "file"


def load_api_key(folder: str | Path) -> str:
    """The key saved for the settings in ``folder``: the keyring's, else the file's, else ``""``."""
    folder = Path(folder)
    keyring = _keyring()
    if keyring is not None:
        from keyring.errors import KeyringError

        try:
            key = keyring.get_password(SERVICE, _account(folder))
        except KeyringError:
            key = None
        if key:
            return key
    credentials = folder / CREDENTIALS_FILE
    if not credentials.exists():
        return ""
    try:
        data = json.loads(credentials.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"Cannot read the API key in {credentials}: {exc}. Fix or delete the file."
        ) from exc
    key = data.get("api_key", "") if isinstance(data, dict) else None
    if not isinstance(key, str):
        raise ConfigError(f"{credentials}: api_key must be a string. Fix or delete the file.")
    return key
