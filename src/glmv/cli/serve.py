"""``glmv serve``: an OpenAI-compatible server on the in-process engine, or vLLM / SGLang launched for the model.

The served name (the ``model`` clients send) defaults to the family's usual name (``glm-4.6v-flash``), as the
GLM-V recipes serve it; the model path or hub id given with ``-m`` is accepted as well.

Every limit that protects the server from one request is an option: ``--max-model-len`` (prompt plus reply, in
tokens), ``--max-request-pixels`` (all media of one request, decoded), ``--max-concurrency`` / ``--max-queue``,
``--write-timeout`` (a client that stops reading is dropped), ``--shutdown-timeout`` (what running replies get on
SIGTERM). An empty ``--api-key`` is refused rather than taken as "no auth".
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from glmv.cli import app
from glmv.settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MODEL,
    DEFAULT_PORT,
)


class KvCache(str, Enum):
    static = "static"
    dynamic = "dynamic"


class ServeEngine(str, Enum):
    glmv = "glmv"
    vllm = "vllm"
    sglang = "sglang"


@app.command("serve")
def serve_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    family: Annotated[
        str | None,
        typer.Option(
            help="The GLM-V family (glm-4.6v-flash, ...) when the model's name or config does not say."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    api_key: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer KEY'.", envvar="GLMV_API_KEY")
    ] = None,
    served_model_name: Annotated[
        str | None,
        typer.Option(help="The model id clients send (default: the family's name, e.g. glm-4.6v-flash)."),
    ] = None,
    allowed_local_media_path: Annotated[
        Path | None, typer.Option(help="The only folder file:// media may come from (none by default).")
    ] = None,
    allow_private_media_urls: Annotated[
        bool, typer.Option(help="Let media URLs reach loopback and private addresses.")
    ] = False,
    max_concurrency: Annotated[
        int, typer.Option(help="Generations running at once.")
    ] = DEFAULT_MAX_CONCURRENCY,
    max_queue: Annotated[
        int, typer.Option(help="Requests waiting beyond that; more get 429.")
    ] = DEFAULT_MAX_QUEUE,
    engine: Annotated[
        ServeEngine, typer.Option(help="glmv (in-process), or launch vllm / sglang.")
    ] = ServeEngine.glmv,
    tensor_parallel_size: Annotated[
        int | None, typer.Option(help="vLLM/SGLang: GPUs per model (default: from GPU count and model size).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="vLLM/SGLang: print the command instead of running it.")
    ] = False,
    device: Annotated[
        str | None, typer.Option(help="glmv: cpu, cuda or auto (default: cuda if present).")
    ] = None,
    dtype: Annotated[str | None, typer.Option(help="glmv: bfloat16, float16 or float32.")] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(help="glmv: rows generated together in one batch.")
    ] = None,
    max_model_len: Annotated[
        int | None,
        typer.Option(
            help="glmv: the context in tokens (prompt plus reply; default: the model's). Longer is a 400."
        ),
    ] = None,
    kv_cache: Annotated[
        KvCache | None,
        typer.Option(
            help="glmv: static (preallocated once: the default on one GPU or with --compile) or dynamic (grown "
            "as needed: the default elsewhere)."
        ),
    ] = None,
    kv_cache_len: Annotated[
        int | None,
        typer.Option(
            help="glmv: tokens per row of a static KV cache (default: the context, or what half the free memory "
            "holds); it caps the context."
        ),
    ] = None,
    compile_step: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="glmv: compile the decode step with torch.compile (CUDA graphs on CUDA; minutes at start-up).",
        ),
    ] = False,
    max_request_pixels: Annotated[
        int | None,
        typer.Option(
            help="Pixels all images and video frames of one request may hold once decoded (413 beyond)."
        ),
    ] = None,
    write_timeout: Annotated[
        float, typer.Option(help="Seconds a streaming client may read nothing before it is dropped.")
    ] = 30.0,
    shutdown_timeout: Annotated[
        float,
        typer.Option(help="Seconds running replies get to finish on SIGTERM before they end with an error."),
    ] = 10.0,
    public_metrics: Annotated[bool, typer.Option(help="Serve /metrics without the API key.")] = False,
    docs: Annotated[
        bool, typer.Option(help="Serve the OpenAPI docs (/docs, /redoc, /openapi.json) without the API key.")
    ] = False,
    web: Annotated[
        bool, typer.Option(help="glmv: also serve the chat page (glmv web) at /web on the same port.")
    ] = False,
    web_auth: Annotated[
        list[str] | None, typer.Option(help="user:password allowed into /web (repeatable).")
    ] = None,
) -> None:
    """Serve a GLM-V model over the OpenAI chat API (POST /v1/chat/completions, GET /v1/models, /health, /metrics)."""
    from glmv.families import get_family

    chosen = get_family(family) if family is not None else None
    if engine is not ServeEngine.glmv:
        if api_key is not None and not api_key.strip():
            from glmv.errors import ConfigError

            raise ConfigError(
                f"The API key is empty: {engine.value} would serve without authentication. Give a real "
                "--api-key (or GLMV_API_KEY), or leave it out to serve without one."
            )
        from glmv.engine.launch import LaunchOptions, build_command, launch

        options = LaunchOptions(
            model,
            family=chosen,
            host=host,
            port=port,
            served_model_name=served_model_name,
            api_key=api_key,
            allowed_local_media_path=allowed_local_media_path,
            tensor_parallel=tensor_parallel_size,
        )
        command = build_command(engine.value, options)
        for note in command.notes:
            typer.echo(f"# {note}", err=True)
        if dry_run:
            typer.echo(command.shell())
            return
        launch(engine.value, command)
        return

    from glmv.errors import require

    require("fastapi", "uvicorn", "prometheus_client", extra="serve", purpose="glmv serve")
    from glmv.engine.open import open_engine
    from glmv.server import ServerSettings, run_server

    settings = ServerSettings(  # checked before the model loads: a bad option fails at once
        api_key=api_key,
        allowed_local_media_path=allowed_local_media_path,
        allow_private_media_urls=allow_private_media_urls,
        max_concurrency=max_concurrency,
        max_queue=max_queue,
        max_request_pixels=max_request_pixels,
        write_timeout=write_timeout,
        shutdown_timeout=shutdown_timeout,
        public_metrics=public_metrics,
        docs=docs,
    )
    from glmv.web.serving import parse_auth

    users = parse_auth(web_auth or [])  # checked before the model loads, like the settings
    if web:
        require("gradio", extra="web", purpose="glmv serve --web")
    options = {
        "family": chosen,
        "device": device,
        "dtype": dtype,
        "max_batch_size": max_batch_size,
        "max_model_len": max_model_len,
        "kv_cache": kv_cache.value if kv_cache is not None else None,
        "kv_cache_len": kv_cache_len,
        "compile": True if compile_step else None,
    }
    served = open_engine(model, **{key: value for key, value in options.items() if value is not None})
    served_family = getattr(served, "family", None)
    name = served_model_name or (served_family.name if served_family is not None else model)
    settings = replace(settings, model_name=name, model_aliases=(model,) if model != name else ())
    mount = None
    if web:
        from glmv.web import WebSettings, mount_app

        def mount(app):
            return mount_app(app, served, WebSettings(model=name), path="/web", auth=users)

    run_server(served, settings, host=host, port=port, mount=mount)
