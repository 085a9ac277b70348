"""The name a server answers to: its served name, listed by /v1/models, and the aliases it also accepts."""

from __future__ import annotations

import httpx
import pytest

from glmv.engine.open import open_engine
from glmv.engine.types import ChatRequest
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer


@pytest.fixture(scope="module")
def engine():
    return open_engine("scripted:glm-4.6v-flash")


@pytest.fixture(scope="module")
def server(engine):
    settings = ServerSettings(model_name="glm-4.6v-flash", model_aliases=("./tiny",))
    with BackgroundServer(engine, settings) as running:
        yield running


def _ask(server, engine, model):
    engine.enqueue("<think>Hm.</think>Hello.")
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=20)


def test_models_lists_the_served_name_only(server):
    models = httpx.get(f"{server.base_url}/models", timeout=20).json()
    assert [m["id"] for m in models["data"]] == ["glm-4.6v-flash"]


@pytest.mark.parametrize(
    "model", ["glm-4.6v-flash", "./tiny", None], ids=["served-name", "path-alias", "omitted"]
)
def test_the_served_name_and_its_aliases_are_answered_under_the_served_name(server, engine, model):
    response = _ask(server, engine, model)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "glm-4.6v-flash"
    assert response.json()["choices"][0]["message"]["content"] == "Hello."


def test_another_name_is_a_404_naming_the_served_one(server, engine):
    response = _ask(server, engine, "gpt-4o")
    assert response.status_code == 404
    assert "'glm-4.6v-flash'" in response.json()["error"]["message"]


def test_a_client_that_names_no_model_finds_the_served_one(server, engine):
    """The README's `glmv chat --api URL` with no -m: the remote engine takes the server's one model."""
    remote = open_engine(server.base_url)
    engine.enqueue("<think>Hm.</think>Hello.")
    reply = remote.chat(ChatRequest(messages=[{"role": "user", "content": "Hi"}]))
    assert reply.content == "Hello."
    assert remote.model == "glm-4.6v-flash"
    assert remote.family.name == "glm-4.6v-flash"  # and the served name tells the client the family
