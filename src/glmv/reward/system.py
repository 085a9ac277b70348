"""The reward system: route each item to its verifier and score it, never failing silently.

Per item (:meth:`RewardSystem.score`): the ground truth is read (see below); the format gate on the response
(see :mod:`glmv.reward.format`); the language-mix gate; the same extraction for response and ground truth; the
verifier's rules, then its judge. Every item gets a :class:`RewardResult` — a reward in [0, 1] and a reason —
and any internal failure (an exception, a math timeout, a judge that did not answer, a ground truth the verifier
cannot read, an item without ``gt_answer``, a datasource that is not mapped) also sets ``error`` and is counted
in :attr:`RewardSystem.stats`, per datasource. :meth:`RewardSystem.score` never raises for one bad item: the
others are still scored. Results are cached by (reward config, question, ground truth, response, image).

Accepted ground truths (:mod:`glmv.reward.truth`): a full GLM reply (``<think>…</think><answer>
<|begin_of_box|>42<|end_of_box|></answer>``, the official layout, or the GLM-4.5V/4.6V form without answer
tags), an answer in box markers without reasoning (``<|begin_of_box|>42<|end_of_box|>``, ``\\boxed{42}``), or
the answer itself (``"42"``, ``"Paris"``, a JSON number); geoquest also takes its ``place_name`` / ``address``
dict. A ground truth in none of these forms is a counted error, never a silent 0.

:meth:`RewardSystem.get_reward` keeps the official glmv_reward signature and return value for drop-in use (it
raises for an unmapped datasource, as the official one does).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError
from glmv.reward.cache import LruCache
from glmv.reward.config import RewardSystemConfig, VerifierConfig, load_config, parse_config
from glmv.reward.format import check_format
from glmv.reward.judge import JudgeClient, JudgeTransport
from glmv.reward.logs import write_reward_logs
from glmv.reward.mathcheck import MathChecker
from glmv.reward.registry import verifier_class
from glmv.reward.text import detect_long_paragraph_mixing
from glmv.reward.truth import ground_truth_reply
from glmv.reward.verifiers.base import Services, Verifier

__all__ = ["ITEM_ERRORS", "DatasourceStats", "RewardItem", "RewardResult", "RewardSystem"]

_log = logging.getLogger("glmv.reward")

ITEM_ERRORS = "glmv_reward_item_errors"
"""The attribute set on the one warning :meth:`RewardSystem.score` logs per call when items failed (the count),
so an application that reports each failed item itself can filter that warning out."""


@dataclass(frozen=True)
class RewardItem:
    """One thing to score. ``response`` is the model's full reply; ``ground_truth`` is a full reply, a boxed
    answer or the answer itself (see the module docstring; for geoquest, a place dict / JSON string)."""

    response: Any
    ground_truth: Any
    question: str = ""
    datasource: str = "default"
    image_file: Any = None
    uuid: str | None = None
    answer_length: int = -1

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> RewardItem:
        """From a JSONL row with official (``prompt``, ``answer``, ``gt_answer``) or glmv key names.

        Raises :class:`ConfigError` naming the field when the row cannot be an item: no answer or ground
        truth (or ``null``), a datasource that is not a string, a prompt that is not text.
        """
        if not isinstance(row, Mapping):
            raise ConfigError(f"an item must be a JSON object (a mapping), got {type(row).__name__}.")

        def pick(*names: str, default: Any = None) -> Any:
            for name in names:
                if name in row:
                    return row[name]
            return default

        response = pick("answer", "response")
        truth = pick("gt_answer", "ground_truth")
        if response is None:
            raise ConfigError("the item has no 'answer' (or 'response'): add the model's reply.")
        if truth is None:
            raise ConfigError("the item has no 'gt_answer' (or 'ground_truth'): add the expected answer.")
        datasource = pick("datasource", "data_source", default="default")
        if not isinstance(datasource, str):
            raise ConfigError(
                f"'datasource' must be a string naming a mapped datasource, got {_json_type(datasource)}."
            )
        question = pick("prompt", "question")
        if question is not None and not isinstance(question, str):
            raise ConfigError(f"'prompt' must be text, got {_json_type(question)}.")
        length = pick("answer_length", "answer_token_length", default=-1)
        return cls(
            response=response,
            ground_truth=truth,
            question=question or "",
            datasource=datasource,
            image_file=pick("image_file", "image"),
            uuid=pick("uuid", "id"),
            answer_length=-1 if length is None else length,
        )


def _label(entry: Any) -> str:
    """The datasource an item is counted under in :attr:`RewardSystem.stats` (its own, when it is a string)."""
    if isinstance(entry, RewardItem):
        datasource = entry.datasource
    elif isinstance(entry, Mapping):
        datasource = entry.get("datasource", entry.get("data_source", "default"))
    else:
        datasource = None
    return datasource if isinstance(datasource, str) else "(invalid datasource)"


def _json_type(value: Any) -> str:
    """How JSON would name ``value``'s type (``null``, ``a list``, …), for messages about JSONL rows."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True, init=False)
class RewardResult:
    """The score of one item. ``error`` is set only for internal failures (never for a plain wrong answer)."""

    reward: float
    extracted_answer: Any
    extracted_ground_truth: Any
    reason: str
    error: str | None = None
    timed_out: bool = False
    judge_calls: int = 0
    cached: bool = False
    datasource: str = "default"

    def __init__(
        self,
        reward: float,
        extracted_answer: Any,
        extracted_ground_truth: Any,
        reason: str,
        error: str | None = None,
        timed_out: bool = False,
        judge_calls: int = 0,
        cached: bool = False,
        datasource: str = "default",
    ) -> None:
        # One dict update instead of the frozen dataclass's nine object.__setattr__ calls: one result is built
        # per scored item, and this halves its cost. The fields stay read-only.
        self.__dict__.update(
            reward=reward,
            extracted_answer=extracted_answer,
            extracted_ground_truth=extracted_ground_truth,
            reason=reason,
            error=error,
            timed_out=timed_out,
            judge_calls=judge_calls,
            cached=cached,
            datasource=datasource,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reward": self.reward,
            "extracted_answer": self.extracted_answer,
            "extracted_ground_truth": self.extracted_ground_truth,
            "reason": self.reason,
            "error": self.error,
            "timed_out": self.timed_out,
            "judge_calls": self.judge_calls,
            "cached": self.cached,
        }


@dataclass
class DatasourceStats:
    """Counters of one datasource since the system was built."""

    items: int = 0
    reward_sum: float = 0.0
    errors: int = 0
    timeouts: int = 0
    judge_calls: int = 0
    format_failures: int = 0
    cache_hits: int = 0
    error_examples: list[str] = field(default_factory=list)

    @property
    def mean_reward(self) -> float:
        return self.reward_sum / self.items if self.items else 0.0


class RewardSystem:
    """Scores model replies against ground truths with the verifiers a reward YAML configures."""

    def __init__(
        self,
        config: str | Path | RewardSystemConfig | Mapping[str, Any],
        *,
        judge_transport: JudgeTransport | None = None,
        judge_backoff: float = 0.5,
    ) -> None:
        if isinstance(config, RewardSystemConfig):
            self.config = config
        elif isinstance(config, Mapping):
            self.config = parse_config(config)
        else:
            self.config = load_config(config)
        c = self.config
        self.reward_log_dir = c.reward_log_dir
        self.services = Services(
            math=MathChecker(workers=c.math_workers, timeout=c.math_timeout, cache_size=c.cache_size),
            judge=JudgeClient(
                judge_transport,
                timeout=c.judge_timeout,
                retries=c.judge_retries,
                backoff=judge_backoff,
                concurrency=c.judge_concurrency,
                cache_size=c.cache_size,
            ),
        )
        self.stats: dict[str, DatasourceStats] = {}
        self._verifiers: dict[str, Verifier] = {}
        self._cache: LruCache[RewardResult] = LruCache(c.cache_size)
        self._gt_cache: LruCache[tuple[Any, str | None]] = LruCache(max(c.cache_size, 4096))
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Build every configured verifier now, so a bad config fails here and not mid-training.
        for name in c.reward_configs:
            self._verifier_for_config(name)

    @classmethod
    def from_yaml(cls, path: str | Path, **options: Any) -> RewardSystem:
        """A reward system from a YAML file in the official glmv_reward layout."""
        return cls(path, **options)

    # Routing ----------------------------------------------------------------------------------------------

    def _verifier_for_config(self, name: str) -> Verifier:
        with self._lock:
            verifier = self._verifiers.get(name)
            if verifier is None:
                config = self.config.reward_configs[name]
                cls = verifier_class(config.verifier_type, where=f"reward_configs.{name}.verifier_type")
                verifier = cls(config, services=self.services, name=name)
                self._verifiers[name] = verifier
            return verifier

    def _config_name(self, datasource: str) -> str:
        if not isinstance(datasource, str):
            raise ConfigError(
                f"'datasource' must be a string naming a mapped datasource, got {_json_type(datasource)}."
            )
        name = self.config.datasource_reward_config_mapping.get(datasource)
        if name is None:
            known = ", ".join(sorted(self.config.datasource_reward_config_mapping))
            raise ConfigError(
                f"No reward config found for datasource: {datasource}. Map it under "
                f"datasource_reward_config_mapping (mapped: {known})."
            )
        return name

    def _route(
        self, datasource: Any, seen: dict[str, tuple[str | None, str | None]]
    ) -> tuple[str | None, str | None]:
        """``(config name, None)`` for a mapped datasource, else ``(None, why)``; ``seen`` keeps the answers of
        one :meth:`score` call."""
        if isinstance(datasource, str) and datasource in seen:
            return seen[datasource]
        try:
            route: tuple[str | None, str | None] = (self._config_name(datasource), None)
        except ConfigError as exc:
            route = (None, str(exc))
        if isinstance(datasource, str):
            seen[datasource] = route
        return route

    def get_reward_config_from_datasource(self, datasource: str) -> VerifierConfig:
        return self.config.reward_configs[self._config_name(datasource)]

    def get_verifier_from_datasource(self, datasource: str) -> Verifier:
        return self._verifier_for_config(self._config_name(datasource))

    # Scoring ----------------------------------------------------------------------------------------------

    def _ground_truth(self, item: RewardItem, verifier: Verifier, config_name: str) -> tuple[Any, str | None]:
        """The extracted ground truth, or why it is unusable; cached per (config, ground truth, question)."""
        try:
            # The type too: True == 1 == 1.0 as keys, but they are different ground truths.
            key: Any = (config_name, type(item.ground_truth), item.ground_truth, item.question)
            hash(key)
        except TypeError:
            key = None
        cached = self._gt_cache.get(key) if key is not None else None
        if cached is not None:
            return cached
        answer = self._read_ground_truth(item, verifier)
        if key is not None:
            self._gt_cache.put(key, answer)
        return answer

    @staticmethod
    def _read_ground_truth(item: RewardItem, verifier: Verifier) -> tuple[Any, str | None]:
        truth = item.ground_truth
        form = "data"
        try:
            if verifier.ground_truth_is_reply(truth):
                truth, form = ground_truth_reply(truth)
        except ValueError as exc:
            return None, str(exc)
        try:
            extracted = verifier.extract_answer(truth, question=item.question)
        except Exception as exc:
            return None, f"extracting the ground truth failed: {type(exc).__name__}: {exc}"
        if extracted is not None:
            return extracted, None
        why = {
            "reply": "its answer needs exactly one <|begin_of_box|>…<|end_of_box|>",
            "boxed": "its box markers must give exactly one box",
            "plain": "the verifier cannot read it",
            "data": f"a {type(truth).__name__} is not an answer it reads; give text",
        }[form]
        return (
            None,
            f"the {verifier.config.verifier_type} verifier found no answer in the ground truth: {why}",
        )

    def _evaluate(self, item: RewardItem, verifier: Verifier, config_name: str) -> RewardResult:
        ds = item.datasource
        # The ground truth first: a bad one is an error even when the response fails a gate.
        extracted_gt, gt_error = self._ground_truth(item, verifier, config_name)
        if gt_error is not None:
            return RewardResult(0.0, None, None, "bad ground truth", error=gt_error, datasource=ds)
        response = item.response
        if isinstance(response, str):
            problem = check_format(response, self.config.answer_format)  # type: ignore[arg-type]
            if problem is not None:
                return RewardResult(0.0, None, None, problem, datasource=ds)
            if self.config.enable_mix_verifier and detect_long_paragraph_mixing(response):
                return RewardResult(
                    0.0, None, None, "language mix: long Chinese and long English paragraphs", datasource=ds
                )
        try:
            extracted = verifier.extract_answer(response, question=item.question)
        except Exception as exc:
            return RewardResult(0.0, None, extracted_gt, "extraction failed", error=f"{exc!r}", datasource=ds)
        if extracted is None or not isinstance(extracted, (str, list, dict)):
            return RewardResult(
                0.0, extracted, extracted_gt, "no answer found (one boxed answer is required)", datasource=ds
            )
        try:
            verdict = verifier.evaluate(
                extracted, extracted_gt, question=item.question, image_file=item.image_file
            )
            reward = float(verdict.reward)
        except Exception as exc:
            return RewardResult(
                0.0,
                extracted,
                extracted_gt,
                "judging failed",
                error=f"{type(exc).__name__}: {exc}",
                datasource=ds,
            )
        if math.isnan(reward):
            return RewardResult(
                0.0, extracted, extracted_gt, verdict.reason, error="the verifier returned NaN", datasource=ds
            )
        return RewardResult(
            min(max(reward, 0.0), 1.0),
            extracted,
            extracted_gt,
            verdict.reason,
            verdict.error,
            verdict.timed_out,
            verdict.judge_calls,
            False,
            ds,
        )

    def _score_one(self, item: RewardItem, config_name: str, verifier: Verifier) -> RewardResult:
        """One item's result (not yet counted in :attr:`stats`). The result cache is skipped when it holds
        nothing (``cache_size: 0``)."""
        if self._cache.size <= 0:
            return self._evaluate(item, verifier, config_name)
        try:
            key: Any = (
                config_name,
                item.question,
                type(item.ground_truth),
                item.ground_truth,
                type(item.response),
                item.response,
                item.image_file,
            )
            hash(key)
        except TypeError:
            return self._evaluate(item, verifier, config_name)
        cached = self._cache.get(key)
        if cached is not None:
            return replace(cached, cached=True, judge_calls=0, datasource=item.datasource)
        result = self._evaluate(item, verifier, config_name)
        if result.error is None:
            self._cache.put(key, result)
        return result

    def _record(self, results: Sequence[RewardResult]) -> None:
        """Count ``results`` in :attr:`stats` (one lock for the whole batch) and log one warning for their
        errors (every one is in the results and in :attr:`stats`)."""
        failed = []
        with self._lock:
            stats_of = self.stats
            stats: DatasourceStats | None = None
            datasource: str | None = None
            for result in results:
                if stats is None or result.datasource != datasource:
                    datasource = result.datasource
                    stats = stats_of.get(datasource)
                    if stats is None:
                        stats = stats_of[datasource] = DatasourceStats()
                stats.items += 1
                stats.reward_sum += result.reward
                stats.judge_calls += result.judge_calls
                if result.cached:
                    stats.cache_hits += 1
                if result.timed_out:
                    stats.timeouts += 1
                if result.reason.startswith("format:"):
                    stats.format_failures += 1
                if result.error is not None:
                    stats.errors += 1
                    if len(stats.error_examples) < 5:
                        stats.error_examples.append(result.error)
                    failed.append(result)
        if failed:
            first = failed[0]
            _log.warning(
                "reward errors in %d of %d items; the first (%s): %s — %s",
                len(failed),
                len(results),
                first.datasource,
                first.reason,
                first.error,
                extra={ITEM_ERRORS: len(failed)},
            )

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="glmv-reward")
            return self._pool

    def score(self, items: Iterable[RewardItem | Mapping[str, Any]]) -> list[RewardResult]:
        """Score ``items`` (in order): one result per item, whatever the item holds.

        An item that cannot be scored — a mapping without ``answer`` or ``gt_answer``, a datasource that is not
        a string or not mapped — gets an error result (reward 0, ``error`` saying why, counted in
        :attr:`stats`) and the others are scored. Items whose verifier may wait (math workers, an LLM judge)
        run in a thread pool; rule-only items run inline in the calling thread.
        """
        entries = list(items)
        results: list[RewardResult | None] = [None] * len(entries)
        routes_seen: dict[str, tuple[str | None, str | None]] = {}
        plan: list[tuple[int, RewardItem, str]] = []
        for index, entry in enumerate(entries):
            try:
                row = entry if isinstance(entry, RewardItem) else RewardItem.from_mapping(entry)
            except ConfigError as exc:
                results[index] = RewardResult(
                    0.0, None, None, "invalid item", error=str(exc), datasource=_label(entry)
                )
                continue
            name, problem = self._route(row.datasource, routes_seen)
            if name is None:
                results[index] = RewardResult(
                    0.0, None, None, "unknown datasource", error=problem, datasource=_label(row)
                )
                continue
            plan.append((index, row, name))
        threaded = len(plan) > 1
        routes: dict[str, tuple[Verifier, bool]] = {}  # config name → (verifier, run in the pool)
        for name in {name for _, _, name in plan}:
            verifier = self._verifier_for_config(name)
            routes[name] = (verifier, threaded and verifier.blocking)
        waiting = []
        score_one = self._score_one
        for index, row, name in plan:
            verifier, pooled = routes[name]
            if pooled:
                waiting.append((index, self._executor().submit(score_one, row, name, verifier)))
            else:
                results[index] = score_one(row, name, verifier)
        for index, future in waiting:
            results[index] = future.result()
        self._record(results)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    def get_reward(
        self,
        prompts: Sequence[str] | str,
        answers: Sequence[str] | str,
        gt_answers: Sequence[str] | str,
        uuids: Sequence[str] | str | None = None,
        image_files: Sequence[str] | str | None = None,
        answer_lengths: Sequence[int] | int | None = None,
        datasources: Sequence[str] | str | None = None,
        log_reward_judge: bool = False,
        save_dir: str | None = None,
        current_iteration: int = 0,
        debug: bool = False,
        return_extracted_answers: bool = False,
    ) -> list[float] | tuple[list[float], list[Any], list[Any]]:
        """The official glmv_reward entry point: rewards for one prompt group (one datasource)."""

        def as_list(value: Any, default: Any, count: int) -> list[Any]:
            """Lists stay; None gives defaults; a single value is shared by the whole group."""
            if value is None:
                return [default] * count
            return [value] * count if isinstance(value, (str, int, dict)) else list(value)

        prompt_list = as_list(prompts, "", 1)
        count = len(prompt_list)
        answer_list = as_list(answers, None, count)
        gt_list = as_list(gt_answers, None, count)
        uuid_list = as_list(uuids, None, count)
        image_list = as_list(image_files, None, count)
        length_list = as_list(answer_lengths, -1, count)
        source_list = as_list(datasources, "default", count)
        lengths = {
            len(x)
            for x in (prompt_list, answer_list, gt_list, uuid_list, image_list, length_list, source_list)
        }
        if len(lengths) != 1:
            raise ValueError(
                "prompts, answers, gt_answers, uuids, image_files, answer_lengths and datasources must have the "
                "same length."
            )
        if not all(isinstance(source, str) for source in source_list):
            raise ValueError("datasources must be strings naming mapped datasources")
        if len(set(source_list)) > 1:
            raise ValueError("all datasources should be the same (get_reward scores one prompt group)")
        datasource = source_list[0] if source_list else "default"
        self._config_name(datasource)
        items = [
            RewardItem(a, g, p or "", datasource, img, u, n)
            for p, a, g, u, img, n in zip(
                prompt_list, answer_list, gt_list, uuid_list, image_list, length_list, strict=True
            )
        ]
        results = self.score(items)
        rewards = [r.reward for r in results]
        if debug:
            for r in results:
                _log.warning(
                    "debug %s: reward=%s reason=%s error=%s extracted=%r gt=%r",
                    datasource,
                    r.reward,
                    r.reason,
                    r.error,
                    r.extracted_answer,
                    r.extracted_ground_truth,
                )
        if log_reward_judge:
            write_reward_logs(
                save_dir or self.reward_log_dir,
                datasource,
                prompts=prompt_list,
                image_files=image_list,
                answers=answer_list,
                gt_answers=gt_list,
                rewards=rewards,
                answer_lengths=length_list,
                uuids=uuid_list,
                current_iteration=current_iteration,
            )
        if return_extracted_answers:
            return rewards, [r.extracted_answer for r in results], [r.extracted_ground_truth for r in results]
        return rewards

    def extract_answer_from_response(
        self, answers: Sequence[str] | str, datasources: Sequence[str] | str
    ) -> list:
        """Per-item extraction with each datasource's verifier (no judging)."""
        answer_list = [answers] if isinstance(answers, str) else list(answers)
        source_list = [datasources] if isinstance(datasources, str) else list(datasources)
        return [
            self.get_verifier_from_datasource(source).extract_answer(answer)
            for answer, source in zip(answer_list, source_list, strict=True)
        ]

    def close(self) -> None:
        """Stop the math workers and thread pools."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.services.close()

    def __enter__(self) -> RewardSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
