"""LocalEngine: a GLM-V checkpoint run in-process on transformers.

The path of one request is short:

1. :meth:`LocalEngine._prepare` (on the caller's thread) renders the conversation with the checkpoint's own chat
   template, loads images / videos through :mod:`glmv.media` and tokenises one row with the processor (videos
   folded into the image stream, see :func:`_videos_as_images`);
2. the :class:`~glmv.engine.local_loop.DecodeLoop` (continuous batching, one worker thread) prefills it between
   decode steps (:mod:`glmv.engine.local_steps`: the model's own vision tower and M-RoPE positions), lets its
   choices join the rows that are decoding (:mod:`glmv.engine.local_kv`: one left-padded KV cache), picks every
   row's token by its own sampling settings and thinking budget (:mod:`glmv.engine.local_sampling`) and hands it
   to the row's stop rules (:class:`~glmv.engine.local_rows.Row`: stop tokens, stop strings, ``max_tokens``,
   cancellation — and the streaming of each new token); a finished row leaves at once;
3. :class:`Generation` (back on the caller's thread) turns the text deltas into :class:`~glmv.engine.types.Chunk`
   objects through the :class:`~glmv.engine.pump.ChunkPump`, then a last chunk per choice with the finish reason,
   usage and the parsed reply.

torch and transformers are imported only when an engine is built.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmv.engine.batching import Job
from glmv.engine.hub import hub_access
from glmv.engine.local_rows import Row, TokenNames, decoder_of
from glmv.engine.local_sampling import RowSampler, Sampling
from glmv.engine.pump import ChunkPump
from glmv.engine.types import ChatRequest, Chunk, EngineBase
from glmv.errors import ModelLoadError, RequestError, require
from glmv.families import Family, detect_family, get_family

if TYPE_CHECKING:
    import torch

    from glmv.engine.local_steps import Prompt
    from glmv.media import MediaPolicy

__all__ = ["Generation", "LocalEngine", "Progress"]

Progress = Callable[[str, float], None]
"""Called while a model loads with a short description of the step and the fraction done (0–1)."""

_DTYPES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}


@dataclass
class _Prepared:
    """One request ready to batch: its tokenised row and its per-row limits."""

    request: ChatRequest
    inputs: dict[str, Any]
    prompt_tokens: int
    max_tokens: int
    budget: int | None
    tools: list[dict[str, Any]] | None
    sampling: Sampling
    vision_keys: list[str]


class LocalEngine(EngineBase):
    """A GLM-V model loaded from a hub id or a checkpoint folder.

    ``device`` defaults to CUDA when there is one, else CPU (``"auto"``: every GPU when there are several, through
    transformers' ``device_map="auto"``, else the one GPU or the CPU); attention runs on SDPA, or on
    flash-attention 2 when ``flash_attn`` is installed and the model is on CUDA;
    ``dtype`` to bfloat16 on CUDA, else float32. ``family`` is detected from the checkpoint unless given.
    Up to ``max_batch_size`` rows (choices) decode together; a request that arrives while others decode is
    prefilled between their steps, at most ``prefill_chunk`` prompt tokens per step, and joins them.
    The vision tower's outputs of recent images are kept in :attr:`vision_cache`, up to ``vision_cache_bytes``
    (0: off), so an image seen before is not encoded again; the KV of finished requests in :attr:`prefix_cache`,
    up to ``prefix_cache_bytes`` (0: off), so a request that starts like an earlier one (the next turn of a chat,
    the same system prompt) prefills only what is new.
    ``media_policy`` limits what images and videos requests may load. ``max_model_len`` lowers the context
    (prompt plus reply) below the checkpoint's; a longer prompt is refused before it reaches the model.
    ``kv_cache`` is ``"static"`` (preallocated, :mod:`glmv.engine.local_static`: the default on one GPU or with
    ``compile``) or ``"dynamic"`` (grown as needed: the default elsewhere); a static cache holds ``kv_cache_len``
    tokens per row (default: the context, or what half the free memory holds) and caps the context.
    ``compile=True`` runs the decode step under ``torch.compile`` (CUDA graphs on CUDA; a string names another
    ``torch.compile`` backend). At load the engine prints one stderr line (:attr:`kv_cache_note`) with the memory
    the KV cache reserves and the tokens it holds.
    ``progress`` reports loading steps.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        family: str | Family | None = None,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_size: int = 8,
        prefill_chunk: int = 512,
        vision_cache_bytes: int = 512 * 2**20,
        prefix_cache_bytes: int = 1024 * 2**20,
        media_policy: MediaPolicy | None = None,
        max_model_len: int | None = None,
        kv_cache: str | None = None,
        kv_cache_len: int | None = None,
        compile: bool | str = False,
        progress: Progress | None = None,
    ) -> None:
        require("torch", "transformers", extra="local", purpose="running a model in-process")
        import torch

        report = progress or (lambda step, fraction: None)
        self.model_id = str(model)
        self.family = get_family(family) if family is not None else _detect(model)
        self.device = _pick_device(device)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(
                f"device {self.device!r} was asked for, but torch finds no CUDA GPU (no NVIDIA driver, or a "
                "CPU-only torch build); use --device cpu, or leave the device out to pick one."
            )
        self.dtype = _torch_dtype(dtype, self.device)
        self.media_policy = media_policy
        cache_only = hub_access(model) == "cache"
        report(f"Loading the processor of {self.model_id}", 0.0)
        self.processor = _load_processor(model, cache_only)
        self.tokenizer = self.processor.tokenizer
        report(f"Loading the weights of {self.model_id}", 0.2)
        self.model = _load_model(model, self.device, self.dtype, cache_only)
        report("Ready", 1.0)
        self.max_model_len = _context_limit(self.model.config, self.family, max_model_len)
        from glmv.engine.local_static import open_kv

        kv, self.kv_cache_note = open_kv(
            self.model, kv_cache, max_batch_size, kv_cache_len, self.max_model_len, compile=compile
        )
        # A row never outgrows the static cache, nor a request its rows: both are refused up front (_prepare).
        self._static_rows = None if kv is None else kv.max_rows
        if kv is not None:
            self.max_model_len = min(self.max_model_len, kv.capacity)
        print(self.kv_cache_note, file=sys.stderr)
        self._max_token_chars = max(1, max((len(t) for t in self.tokenizer.get_vocab()), default=1))
        self.stop_ids = _token_ids(self.tokenizer, self.family.stop_tokens)
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        )
        self._stop_set = frozenset(self.stop_ids)
        self._budget_tokens = None
        if self.family.thinks_by_default:
            from glmv.engine.budget import ThinkingTokens

            self._budget_tokens = ThinkingTokens.for_tokenizer(self.tokenizer, self.family)
        # A fast tokenizer must not be used from two threads at once: callers share one (under a lock) to
        # prepare requests, the worker decodes with its own copy, so preparing never stalls a running batch.
        self._prepare_lock = threading.Lock()
        self._decode = decoder_of(copy.deepcopy(self.tokenizer))
        self._names: TokenNames | None = None  # made on the first request that asks for logprobs
        from glmv.engine.local_loop import DecodeLoop
        from glmv.engine.local_prefix import PrefixCache
        from glmv.engine.local_vision import VisionCache

        self.vision_cache = VisionCache(vision_cache_bytes)
        self.prefix_cache = PrefixCache(prefix_cache_bytes, int(self.model.config.image_token_id))
        self._loop = DecodeLoop(
            self.model,
            self._ready,
            self._rows_for,
            max_rows=max_batch_size,
            prefill_chunk=prefill_chunk,
            prefixes=self.prefix_cache,
            kv=kv,
        )

    # -- public API --------------------------------------------------------------------------------------------

    def start(self, request: ChatRequest) -> Generation:
        """Queue ``request`` and return its running :class:`Generation` (iterate it; ``cancel()`` stops it)."""
        return self.start_batch([request])[0]

    def start_batch(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        """Queue ``requests`` so that they are admitted together (as far as ``max_batch_size`` allows)."""
        prepared = [self._prepare(request) for request in requests]
        jobs = [Job(size=p.request.n, payload=p) for p in prepared]
        self._loop.submit(*jobs)
        return [
            Generation(
                job, self.family, p.tools, p.prompt_tokens, keep_box_markers=p.request.keep_box_markers
            )
            for job, p in zip(jobs, prepared, strict=True)
        ]

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the reply chunks; closing the iterator early cancels the request."""
        generation = self.start(request)
        try:
            yield from generation
        finally:
            generation.cancel()

    def prompt_tokens(self, request: ChatRequest) -> int:
        """How many tokens the prompt of ``request`` takes (images and video frames included)."""
        return self._prepare(request).prompt_tokens

    def render_prompt(self, request: ChatRequest) -> str:
        """The prompt text the chat template makes of ``request`` (before images expand into their tokens)."""
        from glmv.messages import to_processor_messages

        messages, _ = to_processor_messages(request.messages, self.family)
        return self._render(messages, self._tools(request), request.enable_thinking)

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes (special tokens such as ``<think>`` count as one)."""
        with self._prepare_lock:
            return len(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        """Stop the worker and release the model and its caches."""
        self._loop.close()
        self.model = None
        self.vision_cache.clear()
        self.prefix_cache.clear()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalEngine({self.model_id!r}, family={self.family.name!r}, device={self.device!r})"

    # -- request → one tokenised row ---------------------------------------------------------------------------

    def _prepare(self, request: ChatRequest) -> _Prepared:
        from glmv.media import load_image, load_video
        from glmv.messages import to_processor_messages

        if self._static_rows is not None and request.n > self._static_rows:
            raise RequestError(
                f"n is {request.n}, but the static KV cache holds {self._static_rows} rows; lower n or raise "
                "max_batch_size.",
                field="n",
            )
        tools = self._tools(request)
        messages, media = to_processor_messages(request.messages, self.family)
        prompt = self._render(messages, tools, request.enable_thinking)
        if len(prompt) > self.max_model_len * self._max_token_chars or self._head_too_long(prompt):
            raise _too_long(f"more than {self.max_model_len:,}", self.max_model_len)
        images = [load_image(ref.source, self.media_policy) for ref in media if ref.kind == "image"]
        videos = [
            load_video(ref.source, self.family, self.media_policy) for ref in media if ref.kind == "video"
        ]
        kwargs: dict[str, Any] = {}
        if images:
            kwargs["images"] = images
        if videos:
            from transformers.video_utils import VideoMetadata

            kwargs["videos"] = [video.frames for video in videos]
            kwargs["video_metadata"] = [VideoMetadata(**video.metadata()) for video in videos]
            kwargs["do_sample_frames"] = False
        with self._prepare_lock:
            inputs = dict(self.processor(text=[prompt], return_tensors="pt", **kwargs))
        inputs.pop("token_type_ids", None)
        if videos:
            inputs = _videos_as_images(inputs, [ref.kind for ref in media])
        prompt_tokens = int(inputs["input_ids"].shape[1])
        budget = request.thinking_budget if self._budget_tokens is not None else None
        vision_keys = []
        if "pixel_values" in inputs and (self.vision_cache.budget or self.prefix_cache.budget):
            from glmv.engine.local_vision import image_keys

            vision_keys = image_keys(inputs["pixel_values"], inputs["image_grid_thw"])
        return _Prepared(
            request=request,
            inputs=inputs,
            prompt_tokens=prompt_tokens,
            max_tokens=self._max_tokens(request, prompt_tokens),
            budget=budget,
            tools=tools,
            sampling=self._sampling(request),
            vision_keys=vision_keys,
        )

    def _head_too_long(self, prompt: str) -> bool:
        """Whether the head of a long prompt alone is past the context, so the rest need not be tokenised (a
        hostile 5 MB prompt costs the tokeniser 30 kB of work). The head ends at a word, where the tokeniser's
        pre-tokeniser splits the whole prompt too, so its tokens are the whole prompt's first ones."""
        head_chars = self.max_model_len * _HEAD_CHARS_PER_TOKEN
        if len(prompt) <= head_chars:
            return False
        cut = max(prompt.rfind(" ", 0, head_chars), prompt.rfind("\n", 0, head_chars))
        if cut <= 0:
            return False
        head = self.tokenizer(prompt[:cut], add_special_tokens=False)["input_ids"]
        return len(head) > self.max_model_len

    def _max_tokens(self, request: ChatRequest, prompt_tokens: int) -> int:
        """The request's ``max_tokens`` checked against the context left after the prompt (the family's
        default is clamped to it, a ``max_tokens`` given past it is refused, as vLLM does)."""
        left = self.max_model_len - prompt_tokens
        if left <= 0:
            raise _too_long(f"{prompt_tokens:,}", self.max_model_len)
        if request.max_tokens is None:
            return min(self.family.sampling.max_tokens, left)
        if request.max_tokens > left:
            raise RequestError(
                f"max_tokens is {request.max_tokens:,}, but the prompt takes {prompt_tokens:,} of the "
                f"{self.max_model_len:,} tokens of context, so at most {left:,} can be generated; lower max_tokens.",
                field="max_tokens",
            )
        return request.max_tokens

    def _render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, thinking: bool | None
    ) -> str:
        options: dict[str, Any] = {"add_generation_prompt": True, "tokenize": False}
        if tools:
            options["tools"] = tools
        if thinking is not None:
            options["enable_thinking"] = thinking
        template = self.processor.chat_template
        prompt = self.tokenizer.apply_chat_template(messages, chat_template=template, **options)
        if thinking is False and self.family.thinking == "always":
            # A family that cannot switch thinking off gets an empty, closed think block and an open answer.
            prompt += self.family.closed_thinking
        return prompt

    def _tools(self, request: ChatRequest) -> list[dict[str, Any]] | None:
        tools = None if request.tool_choice == "none" else request.tools
        if tools and not self.family.tool_calls:
            raise RequestError(
                f"{self.family.title} cannot call tools; send the request without tools.", "tools"
            )
        return tools

    def _sampling(self, request: ChatRequest) -> Sampling:
        defaults = self.family.sampling
        penalty = (
            defaults.repetition_penalty if request.repetition_penalty is None else request.repetition_penalty
        )
        temperature = defaults.temperature if request.temperature is None else request.temperature
        if temperature <= 0:
            return Sampling(repetition_penalty=penalty)
        return Sampling(
            temperature=temperature,
            top_p=defaults.top_p if request.top_p is None else request.top_p,
            top_k=defaults.top_k if request.top_k is None else request.top_k,
            repetition_penalty=penalty,
            seed=request.seed,
        )

    # -- the worker's side: a prefilled prompt becomes one row per choice --------------------------------------

    def _ready(self, job: Job) -> Prompt:
        from glmv.engine.local_steps import ready_prompt

        prepared: _Prepared = job.payload
        return ready_prompt(
            self.model, prepared.inputs, self.vision_cache, prepared.vision_keys, self.prefix_cache
        )

    def _rows_for(self, job: Job, prompt: Prompt) -> list[tuple[Row, RowSampler]]:
        prepared: _Prepared = job.payload
        request = prepared.request
        logprobs = (request.top_logprobs or 0) if request.logprobs else None
        names = None
        if logprobs is not None:
            if self._names is None:
                self._names = TokenNames(copy.deepcopy(self.tokenizer))
            names = self._names
        pairs = []
        for index in range(job.size):
            budget = None
            if prepared.budget is not None:
                from glmv.engine.budget import ThinkingBudget

                budget = ThinkingBudget(self._budget_tokens, prepared.budget)
            row = Row(
                job,
                index,
                self._decode,
                self._stop_set,
                prepared.request.stop,
                prepared.max_tokens,
                prompt_ids=prompt.ids,
                rope_delta=prompt.delta,
                vision_keys=prompt.keys,
                names=names,
            )
            pairs.append((row, RowSampler(prepared.sampling, budget, index, logprobs=logprobs)))
        return pairs


class Generation:
    """A running request: iterate it for :class:`~glmv.engine.types.Chunk` objects; :meth:`cancel` stops it.

    Each choice streams reasoning / content / tool-call deltas (and the ``raw`` text), then ends with a chunk
    carrying ``finish_reason`` (``stop``, ``length``, ``tool_calls`` or ``cancelled``), its
    :class:`~glmv.output.Usage` and the parsed ``reply``. ``keep_box_markers`` keeps the box markers in content.
    """

    def __init__(
        self,
        job: Job,
        family: Family,
        tools: list[dict[str, Any]] | None,
        prompt_tokens: int,
        *,
        keep_box_markers: bool = False,
    ) -> None:
        self.job = job
        self.family = family
        self.tools = tools
        self.prompt_tokens = prompt_tokens
        pump = ChunkPump(family, tools, keep_box_markers=keep_box_markers, prompt_tokens=prompt_tokens)
        self._chunks = pump.run(job.stream())

    def __del__(self) -> None:  # an abandoned generation stops instead of running to max_tokens
        self.job.cancel()

    @property
    def batch_size(self) -> int:
        """The most rows (choices of any request) that decoded together while this request ran (0 while it
        waits)."""
        return self.job.batch_rows

    @property
    def timings(self) -> dict[str, float]:
        """``queue_s`` (waiting for a slot), ``prefill_s``, ``first_token_s`` (from the call) and
        ``decode_tokens_per_s`` (all choices), as far as they are known yet."""
        return self.job.timings.summary()

    def cancel(self) -> None:
        """Stop generating; the engine goes on with the other requests of the batch."""
        self.job.cancel()

    def __iter__(self) -> Generation:
        return self

    def __next__(self) -> Chunk:
        return next(self._chunks)


def _videos_as_images(inputs: dict[str, Any], kinds: Sequence[str]) -> dict[str, Any]:
    """One row's vision inputs with its videos folded into the image stream, so prefill has one vision path and
    images and videos can mix.

    transformers' GLM-V models find video placeholders with the *image* token id (GLM writes video frames as
    images), so a prompt holding both counts every frame's tokens as image tokens and fails ("Image features
    and image tokens do not match"). The vision tower reads a video as one ``[1, h, w]`` grid per temporal
    step and M-RoPE places each such frame exactly as an image of that grid, so the video's pixel rows join the
    image rows in prompt order, its grid splits into one image grid per step, and its tokens are marked as
    image tokens: the same features land on the same positions, and nothing depends on the buggy mask.
    """
    import torch

    no_images = inputs["video_grid_thw"][:0]
    image_grid = inputs.get("image_grid_thw", no_images)
    image_rows = iter(
        torch.split(
            inputs.get("pixel_values", inputs["pixel_values_videos"][:0]), image_grid.prod(-1).tolist()
        )
    )
    video_rows = iter(torch.split(inputs["pixel_values_videos"], inputs["video_grid_thw"].prod(-1).tolist()))
    image_grids, video_grids = iter(image_grid), iter(inputs["video_grid_thw"])
    rows, grids = [], []
    for kind in kinds:
        if kind == "image":
            rows.append(next(image_rows))
            grids.append(next(image_grids).view(1, 3))
        else:
            steps, height, width = next(video_grids).tolist()
            rows.append(next(video_rows))
            grids.append(torch.tensor([[1, height, width]] * steps, dtype=image_grid.dtype))
    merged = {k: v for k, v in inputs.items() if k not in ("pixel_values_videos", "video_grid_thw")}
    merged["pixel_values"] = torch.cat(rows)
    merged["image_grid_thw"] = torch.cat(grids)
    merged["mm_token_type_ids"] = inputs["mm_token_type_ids"].clamp(max=1)
    return merged


_HEAD_CHARS_PER_TOKEN = 6
"""A prompt longer than this many characters per token of context has its head counted first."""


def _too_long(count: str, limit: int) -> RequestError:
    return RequestError(
        f"The prompt takes {count} tokens (images and video frames included), but the model's context is "
        f"{limit:,} tokens; shorten the conversation or its media (a server's --max-model-len sets the limit).",
        field="messages",
    )


def _context_limit(config: Any, family: Family, requested: int | None) -> int:
    """Positions a prompt plus its reply may take: the checkpoint's, the family's, and ``max_model_len``."""
    text = getattr(config, "text_config", None) or config
    limits = [family.context_length, getattr(text, "max_position_embeddings", None), requested]
    limit = min(value for value in limits if value)
    if requested is not None and requested < 1:
        raise ModelLoadError(f"max_model_len must be at least 1, got {requested}.")
    return limit


def _detect(model: str | Path) -> Family:
    path = Path(model).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise ModelLoadError(
            f"{path} is not a model checkpoint: it has no config.json. Point at a folder written by "
            "save_pretrained (or downloaded from the Hub), or at a hub id such as zai-org/GLM-4.6V-Flash."
        )
    return detect_family(model)


def _torch_dtype(dtype: str | None, device: str) -> torch.dtype:
    import torch

    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") or device == "auto" else torch.float32
    name = _DTYPES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ModelLoadError(f"Unknown dtype {dtype!r}; use one of bfloat16, float16, float32 or auto.")
    return getattr(torch, name)


def _pick_device(device: str | None) -> str:
    """The device to load on: ``"auto"`` is every GPU (``device_map="auto"``) only when there are several."""
    import torch

    if device is None or device == "auto":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device == "auto" and count > 1:
            return "auto"
        return "cuda" if count else "cpu"
    return device


def _attention(device: str) -> str:
    """flash-attention 2 where it is installed and the model is on CUDA, else torch's SDPA."""
    from importlib.util import find_spec

    on_gpu = device == "auto" or device.startswith("cuda")
    return "flash_attention_2" if on_gpu and find_spec("flash_attn") is not None else "sdpa"


def _load_error(model: str | Path, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"Cannot load the model {str(model)!r}: it is not a local folder and was not found in the Hugging Face "
        "cache or on the Hub. Check the id (the GLM-V ids are listed by `glmv families`) or pass a checkpoint "
        f"folder; gated or private models need `hf auth login`. ({type(exc).__name__}: {exc})"
    )


def _load_processor(model: str | Path, cache_only: bool) -> Any:
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(str(model), local_files_only=cache_only)
    except (OSError, ValueError) as exc:
        raise _load_error(model, exc) from exc


def _load_model(model: str | Path, device: str, dtype: torch.dtype, cache_only: bool) -> Any:
    from transformers import AutoModelForImageTextToText
    from transformers.utils import logging

    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # the caller's progress callback reports loading, not one bar per shard
    try:
        loaded = AutoModelForImageTextToText.from_pretrained(
            str(model),
            dtype=dtype,
            device_map=device,
            local_files_only=cache_only,
            attn_implementation=_attention(device),
        )
    except (OSError, ValueError) as exc:
        raise _load_error(model, exc) from exc
    finally:
        if bars:
            logging.enable_progress_bar()
    return loaded.eval()


def _token_ids(tokenizer: Any, tokens: Sequence[str]) -> tuple[int, ...]:
    ids = []
    for token in tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is not None and token_id != tokenizer.unk_token_id:
            ids.append(int(token_id))
    if not ids:
        raise ModelLoadError(
            f"The tokenizer knows none of the stop tokens {', '.join(tokens)}; is it a GLM-V tokenizer?"
        )
    return tuple(ids)
