"""``glmv serve``: an OpenAI-compatible server on the in-process engine, or vLLM / SGLang launched for the model."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from glmv.cli import app
from glmv.settings import DEFAULT_HOST, DEFAULT_MODEL, DEFAULT_PORT


class ServeEngine(str, Enum):
    glmv = "glmv"
    vllm = "vllm"
    sglang = "sglang"


@app.command("serve")
def serve_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    api_key: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer KEY'.", envvar="GLMV_API_KEY")
    ] = None,
    served_model_name: Annotated[
        str | None, typer.Option(help="The model id clients send (default: --model).")
    ] = None,
    allowed_local_media_path: Annotated[
        Path | None, typer.Option(help="The only folder file:// media may come from (none by default).")
    ] = None,
    allow_private_media_urls: Annotated[
        bool, typer.Option(help="Let media URLs reach loopback and private addresses.")
    ] = False,
    max_concurrency: Annotated[int, typer.Option(help="Generations running at once.")] = 64,
    max_queue: Annotated[int, typer.Option(help="Requests waiting beyond that; more get 429.")] = 256,
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
) -> None:
    """Serve a GLM-V model over the OpenAI chat API (POST /v1/chat/completions, GET /v1/models, /health, /metrics)."""
    if engine is not ServeEngine.glmv:
        from glmv.engine.launch import build_command, launch

        command = build_command(
            engine.value,
            model,
            host=host,
            port=port,
            served_model_name=served_model_name,
            api_key=api_key,
            allowed_local_media_path=allowed_local_media_path,
            tensor_parallel=tensor_parallel_size,
        )
        for note in command.notes:
            typer.echo(f"# {note}", err=True)
        if dry_run:
            typer.echo(command.shell())
            return
        launch(engine.value, command)
        return

    from glmv.engine.open import open_engine
    from glmv.server import ServerSettings, run_server

    settings = ServerSettings(
        model_name=served_model_name or model,
        api_key=api_key,
        allowed_local_media_path=allowed_local_media_path,
        allow_private_media_urls=allow_private_media_urls,
        max_concurrency=max_concurrency,
        max_queue=max_queue,
    )
    options = {"device": device, "dtype": dtype, "max_batch_size": max_batch_size}
    engine_options = {key: value for key, value in options.items() if value is not None}
    run_server(open_engine(model, **engine_options), settings, host=host, port=port)
