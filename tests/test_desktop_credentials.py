"""Where ``glmv desktop`` keeps the API key: the OS keyring when a real backend is there (a test backend here), else
``credentials.json`` with mode 0600 (the fail backend, a locked keyring); never ``settings.json`` or the history."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

pytest.importorskip("keyring", reason="keyring is not installed")

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringError, PasswordDeleteError

from glmv.desktop import DesktopSettings, load_settings, save_settings
from glmv.desktop.credentials import SERVICE, key_storage, load_api_key, store_api_key


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps secrets in a dict (what the OS keyring would hold)."""

    priority = 10
    name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class LockedKeyring(MemoryKeyring):
    """A real backend that refuses every call (a locked keychain, no D-Bus session)."""

    name = "locked"

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("the keyring is locked")


@pytest.fixture
def use_keyring():
    """``use_keyring(backend)`` makes ``backend`` the keyring for this test (the previous one comes back after)."""
    before = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(before)


SETTINGS = DesktopSettings(engine="api", api_url="http://127.0.0.1:9/v1", api_key="sk-secret-123")


def test_with_an_os_keyring_the_key_goes_there_and_no_file_holds_it(tmp_path, use_keyring):
    memory = MemoryKeyring()
    use_keyring(memory)
    folder = tmp_path / "config"
    save_settings(SETTINGS, folder)
    assert list(memory.secrets.values()) == ["sk-secret-123"]
    ((service, account),) = memory.secrets
    assert service == SERVICE and Path(account) == folder.absolute()
    assert not (folder / "credentials.json").exists()
    assert not any("sk-secret" in path.read_text() for path in folder.iterdir())
    assert load_settings(folder) == SETTINGS
    assert "memory" in key_storage()

    save_settings(SETTINGS.with_(api_key=""), folder)  # a key cleared in the settings is forgotten
    assert memory.secrets == {} and load_settings(folder).api_key == ""


def test_two_settings_folders_keep_two_keys(tmp_path, use_keyring):
    use_keyring(MemoryKeyring())
    save_settings(SETTINGS.with_(api_key="first"), tmp_path / "a")
    save_settings(SETTINGS.with_(api_key="second"), tmp_path / "b")
    assert (load_settings(tmp_path / "a").api_key, load_settings(tmp_path / "b").api_key) == (
        "first",
        "second",
    )


def test_a_key_in_the_old_file_moves_to_the_keyring_on_the_next_save(tmp_path, use_keyring):
    use_keyring(fail.Keyring())
    save_settings(SETTINGS, tmp_path)
    assert (tmp_path / "credentials.json").exists()
    memory = MemoryKeyring()
    use_keyring(memory)
    assert load_settings(tmp_path).api_key == "sk-secret-123"  # read from the file while the keyring has none
    save_settings(load_settings(tmp_path), tmp_path)
    assert not (tmp_path / "credentials.json").exists() and list(memory.secrets.values()) == ["sk-secret-123"]


@pytest.mark.parametrize("backend", [fail.Keyring, LockedKeyring], ids=["no keyring", "locked keyring"])
def test_without_a_usable_keyring_the_key_goes_to_a_user_only_file(tmp_path, use_keyring, backend):
    use_keyring(backend())
    assert store_api_key(tmp_path, "sk-secret-123") == "file"
    credentials = tmp_path / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text()) == {"api_key": "sk-secret-123"}
    assert load_api_key(tmp_path) == "sk-secret-123"
    save_settings(SETTINGS, tmp_path)
    assert "sk-secret" not in (tmp_path / "settings.json").read_text()
    store_api_key(tmp_path, "")
    assert not credentials.exists() and load_api_key(tmp_path) == ""


def test_no_keyring_is_said_in_words(use_keyring):
    use_keyring(fail.Keyring())
    assert "credentials.json" in key_storage() and "0600" in key_storage()


def test_a_broken_key_file_is_refused_with_its_name(tmp_path, use_keyring):
    use_keyring(fail.Keyring())
    (tmp_path / "credentials.json").write_text('{"api_key": 5}')
    from glmv.errors import ConfigError

    with pytest.raises(ConfigError, match="credentials.json"):
        load_settings(tmp_path)
