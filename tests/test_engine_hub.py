"""Loading a hub id answers at once when the hub cannot be reached, and says what to do."""

from __future__ import annotations

import socket
import time

import pytest

from glmv.engine.hub import hub_access
from glmv.errors import ModelLoadError
from glmv.testing.serving import free_port


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (connecting is refused at once)."""
    return free_port()


@pytest.fixture
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return constants


def test_an_unreachable_hub_fails_fast_with_what_to_do(online, monkeypatch, closed_port):
    monkeypatch.setattr(online, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        hub_access("zai-org/GLM-4.6V-Flash")
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "Cannot reach the Hugging Face hub" in message and "HF_HUB_OFFLINE=1" in message
    assert "checkpoint folder" in message
    assert "such as zai-org/GLM-4.6V-Flash" not in message  # the user's own id is not the suggestion


def test_a_reachable_endpoint_means_online(online, monkeypatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setattr(online, "ENDPOINT", f"http://127.0.0.1:{listener.getsockname()[1]}")
        assert hub_access("zai-org/GLM-4.6V-Flash") == "online"


def test_offline_without_the_model_in_the_cache(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache, and HF_HUB_OFFLINE is set"):
        hub_access("zai-org/GLM-4.6V-Flash")


def test_a_folder_needs_no_hub(tmp_path):
    assert hub_access(tmp_path) == "folder"


def test_a_cached_model_loads_from_the_cache_when_the_hub_is_down(online, monkeypatch, closed_port, tmp_path):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--zai-org--GLM-4.6V-Flash" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--zai-org--GLM-4.6V-Flash" / "refs").mkdir()
    (tmp_path / "models--zai-org--GLM-4.6V-Flash" / "refs" / "main").write_text("abc")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(online, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    assert hub_access("zai-org/GLM-4.6V-Flash") == "cache"
