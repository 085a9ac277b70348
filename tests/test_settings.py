"""One settings source: every front end's defaults are the values of ``glmv.settings``."""

from __future__ import annotations

import pytest
import typer

from glmv import settings
from glmv.cli import app
from glmv.engine.launch import LaunchOptions
from glmv.server import ServerSettings


def _cli_defaults(command: str) -> dict[str, object]:
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {param.name: param.default for param in click_command.params}


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("max_concurrency", settings.DEFAULT_MAX_CONCURRENCY),
        ("max_queue", settings.DEFAULT_MAX_QUEUE),
        ("max_body_bytes", settings.DEFAULT_MAX_BODY_BYTES),
        ("max_n", settings.DEFAULT_MAX_N),
        ("retry_after", settings.DEFAULT_RETRY_AFTER),
    ],
)
def test_server_limits_default_to_the_settings(field, expected):
    assert getattr(ServerSettings(), field) == expected


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("model", settings.DEFAULT_MODEL),
        ("host", settings.DEFAULT_HOST),
        ("port", settings.DEFAULT_PORT),
        ("max_concurrency", settings.DEFAULT_MAX_CONCURRENCY),
        ("max_queue", settings.DEFAULT_MAX_QUEUE),
    ],
)
def test_glmv_serve_options_default_to_the_settings(option, expected):
    assert _cli_defaults("serve")[option] == expected


def test_glmv_chat_defaults_to_the_settings_model():
    assert _cli_defaults("chat")["model"] == settings.DEFAULT_MODEL


def test_a_launched_engine_listens_where_glmv_serve_would():
    options = LaunchOptions("zai-org/GLM-4.6V-Flash")
    assert (options.host, options.port) == (settings.DEFAULT_HOST, settings.DEFAULT_PORT)


def test_the_judge_model_is_the_settings_one():
    from glmv.reward.judge import DEFAULT_JUDGE_MODEL

    assert DEFAULT_JUDGE_MODEL == settings.DEFAULT_JUDGE_MODEL


def test_servers_listen_on_loopback_unless_told_otherwise():
    assert settings.DEFAULT_HOST == "127.0.0.1"
