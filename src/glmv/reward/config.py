"""The reward configuration: the official glmv_reward YAML layout, loaded unchanged.

A config maps each datasource to a named reward config, and each reward config is a tagged union on
``verifier_type`` (``math``, ``ocr``, ``AndroidWorld``, …) with the official field names and defaults. As in the
official loader, keys it does not know are ignored — but they are kept in ``ignored_keys`` and logged, so a typo
is visible. Unknown verifier types, missing required fields, wrong value types and unmapped datasources raise
:class:`~glmv.errors.ConfigError` naming the key.

glmv adds a few top-level keys of its own (all optional): ``answer_format`` (``auto`` accepts the GLM-4.1V
``<answer>`` form and the GLM-4.5V/4.6V form without answer tags; ``answer_tags`` and ``plain`` accept one),
``math_timeout`` (seconds per math check, hard), ``math_workers``, ``judge_timeout``, ``judge_retries``,
``judge_concurrency`` and ``cache_size``.

Numbers are checked against their range when the file loads (:data:`LIMITS`: timeouts above 0, at least one
worker, ``llm_top_p`` in (0, 1], edit-distance bounds in [0, 1] with the lower one below the upper one, no NaN
or infinity), so a ``math_timeout: -1`` fails at once with the key named instead of mid-training. A file that is
not a regular file, is not UTF-8, is over 16 MiB or nests deeper than the YAML parser can follow is a
:class:`~glmv.errors.ConfigError` too.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import stat
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError
from glmv.reward.format import ANSWER_FORMATS
from glmv.settings import DEFAULT_JUDGE_MODEL

__all__ = [
    "LIMITS",
    "ChartConfig",
    "CountingConfig",
    "FileBasedConfig",
    "GeneralConfig",
    "GeoquestConfig",
    "JudgeFields",
    "LanguageMixConfig",
    "Limit",
    "LongDocConfig",
    "MathConfig",
    "MmsiConfig",
    "OcrConfig",
    "RewardSystemConfig",
    "VerifierConfig",
    "VqaConfig",
    "load_config",
    "parse_config",
    "parse_verifier_config",
]

_log = logging.getLogger("glmv.reward")
StrOrList = typing.Union[str, list[str], None]  # noqa: UP007  (evaluated at runtime by the type checker below)


@dataclass(frozen=True, kw_only=True)
class VerifierConfig:
    """Base of every verifier config: the tag and the keys that were ignored."""

    verifier_type: str
    ignored_keys: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JudgeFields(VerifierConfig):
    """The LLM-judge keys most verifiers share (lists mean several judges voting)."""

    enable_llm_judge_fallback: bool = True
    llm_api_key: StrOrList = None
    llm_judge_url: StrOrList = None
    llm_model: StrOrList = None
    llm_judge_prompt_template: str | None = None
    llm_max_tokens: int = 10
    llm_temperature: float = 0.1
    llm_top_p: float = 1.0


@dataclass(frozen=True, kw_only=True)
class MathConfig(JudgeFields):
    """math, biology, chemistry, physics, geography, liberal_arts."""

    sympy_tolerance: float = 1e-5
    strict_boxed_extraction: bool = True


@dataclass(frozen=True, kw_only=True)
class VqaConfig(JudgeFields):
    strict_boxed_extraction: bool = True


@dataclass(frozen=True, kw_only=True)
class OcrConfig(JudgeFields):
    strict_boxed_extraction: bool = True
    edit_distance_upper_bound: float = 1.0
    edit_distance_lower_bound: float = 0.0
    ignore_case: bool = False


@dataclass(frozen=True, kw_only=True)
class ChartConfig(JudgeFields):
    answer_extraction_regex: str
    sympy_tolerance: float = 1e-5
    strict_boxed_extraction: bool = True
    llm_model: StrOrList = DEFAULT_JUDGE_MODEL


@dataclass(frozen=True, kw_only=True)
class CountingConfig(JudgeFields):
    strict_boxed_extraction: bool = True
    llm_model: StrOrList = DEFAULT_JUDGE_MODEL


@dataclass(frozen=True, kw_only=True)
class MmsiConfig(CountingConfig):
    """mmsi and multi_image."""

    sympy_tolerance: float = 1e-5


@dataclass(frozen=True, kw_only=True)
class GeneralConfig(VerifierConfig):
    llm_api_key: StrOrList
    llm_judge_url: StrOrList
    llm_judge_prompt_template: str
    llm_model: StrOrList = DEFAULT_JUDGE_MODEL
    llm_max_tokens: int = 10
    llm_temperature: float = 0.1
    llm_top_p: float = 1.0
    answer_extraction_regex: str | None = None


@dataclass(frozen=True, kw_only=True)
class GeoquestConfig(VerifierConfig):
    llm_api_key: StrOrList
    llm_judge_url: StrOrList
    llm_judge_prompt_template: str
    llm_model: StrOrList = None
    llm_max_tokens: int = 4096
    llm_temperature: float = 0.8
    llm_top_p: float = 0.6
    strict_boxed_extraction: bool = True


@dataclass(frozen=True, kw_only=True)
class LongDocConfig(VerifierConfig):
    """Long documents: the official config type had no verifier; glmv gives it a majority-vote judge."""

    llm_api_key: StrOrList
    llm_judge_url: StrOrList
    llm_model: StrOrList
    answer_extraction_regex: str | None = None
    llm_judge_prompt_template: str | None = None
    llm_max_tokens: int = 10
    llm_temperature: float = 0.1
    llm_top_p: float = 1.0
    strict_boxed_extraction: bool = False


@dataclass(frozen=True, kw_only=True)
class LanguageMixConfig(VerifierConfig):
    pass


@dataclass(frozen=True, kw_only=True)
class FileBasedConfig(VerifierConfig):
    """file_based and the GUI-agent types: Python functions loaded from files."""

    extract_answer_file_path: str | None = None
    extract_answer_func_name: str = "extract_answer"
    judge_func_path: str | None = None
    judge_func_name: str = "judge"
    load_once: bool = True


@dataclass(frozen=True, kw_only=True)
class RewardSystemConfig:
    """The whole file: datasource routing, the reward configs and the system switches."""

    datasource_reward_config_mapping: dict[str, str]
    reward_configs: dict[str, VerifierConfig]
    enable_mix_verifier: bool = True
    reward_log_dir: str = "logs"
    answer_format: str = "auto"
    math_timeout: float = 10.0
    math_workers: int = 2
    judge_timeout: float = 120.0
    judge_retries: int = 2
    judge_concurrency: int = 16
    cache_size: int = 100_000
    ignored_keys: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Limit:
    """The range a numeric setting must lie in: from ``low`` (excluded when ``low_open``) to ``high``
    (included; None for no bound). NaN and infinity are always refused."""

    low: float
    high: float | None = None
    low_open: bool = False
    unit: str = ""

    def allows(self, value: float) -> bool:
        if not math.isfinite(value) or value < self.low or (self.low_open and value == self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        text = f"greater than {self.low:g}" if self.low_open else f"at least {self.low:g}"
        if self.high is not None:
            text += f" and at most {self.high:g}"
        return f"{text}{f' {self.unit}' if self.unit else ''}"


_DAY = 86_400.0

LIMITS: dict[str, Limit] = {
    # top level (glmv's keys)
    "math_timeout": Limit(0, _DAY, low_open=True, unit="seconds"),
    "math_workers": Limit(1, 256),
    "judge_timeout": Limit(0, _DAY, low_open=True, unit="seconds"),
    "judge_retries": Limit(0, 100),
    "judge_concurrency": Limit(1, 1024),
    "cache_size": Limit(0, 100_000_000),
    # verifier configs (the official keys)
    "sympy_tolerance": Limit(0),
    "llm_max_tokens": Limit(1, 10_000_000),
    "llm_temperature": Limit(0),
    "llm_top_p": Limit(0, 1, low_open=True),
    "edit_distance_upper_bound": Limit(0, 1),
    "edit_distance_lower_bound": Limit(0, 1),
}
"""Allowed ranges of numeric settings, by key (any config class with a field of that name)."""

_MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _build(
    cls: type, where: str, data: Mapping[str, Any], skip: set[str]
) -> tuple[dict[str, Any], list[str]]:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    known = set()
    for f in dataclasses.fields(cls):
        known.add(f.name)
        if f.name in skip:
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(
                    f"{where or 'reward config'}: missing required key '{f.name}'. Add it to the config."
                )
            continue
        value = data[f.name]
        if isinstance(value, float) and hints[f.name] is int and value.is_integer():
            value = int(value)
        key = f"{where}.{f.name}" if where else f.name
        if not _type_ok(value, hints[f.name]):
            raise ConfigError(
                f"{key}: expected {_describe(hints[f.name])}, got {type(value).__name__} {value!r}."
            )
        limit = LIMITS.get(f.name)
        if limit is not None and isinstance(value, (int, float)) and not limit.allows(value):
            raise ConfigError(f"{key}: must be {limit.describe()}, got {value!r}. Fix the value.")
        values[f.name] = value
    return values, sorted(k for k in data if k not in known)


def parse_verifier_config(name: str, data: Mapping[str, Any]) -> VerifierConfig:
    """One entry of ``reward_configs`` → its typed config (its class comes from the verifier registry)."""
    from glmv.reward.registry import verifier_class

    where = f"reward_configs.{name}"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}.")
    if "verifier_type" not in data:
        raise ConfigError(f"{where}: missing required key 'verifier_type'.")
    tag = data["verifier_type"]
    if not isinstance(tag, str):
        raise ConfigError(f"{where}.verifier_type: expected a string, got {tag!r}.")
    cls = verifier_class(tag, where=f"{where}.verifier_type")
    values, ignored = _build(cls.config_class, where, data, skip={"verifier_type", "ignored_keys"})
    lower = values.get("edit_distance_lower_bound", 0.0)
    upper = values.get("edit_distance_upper_bound", 1.0)
    if lower > upper:
        raise ConfigError(
            f"{where}: edit_distance_lower_bound ({lower:g}) must not be above edit_distance_upper_bound "
            f"({upper:g})."
        )
    if ignored:
        _log.warning("%s: ignoring keys the '%s' verifier does not use: %s", where, tag, ", ".join(ignored))
    return cls.config_class(verifier_type=tag, ignored_keys=tuple(ignored), **values)


def parse_config(data: Mapping[str, Any]) -> RewardSystemConfig:
    """A loaded YAML document → :class:`RewardSystemConfig`, checked."""
    if not isinstance(data, Mapping):
        raise ConfigError("reward config: expected a mapping at the top level.")
    raw_configs = data.get("reward_configs")
    if not isinstance(raw_configs, Mapping):
        raise ConfigError(
            "reward config: missing required key 'reward_configs' (a mapping of named configs)."
        )
    mapping = data.get("datasource_reward_config_mapping")
    if not isinstance(mapping, Mapping):
        raise ConfigError(
            "reward config: missing required key 'datasource_reward_config_mapping' (datasource → config name)."
        )
    configs = {str(name): parse_verifier_config(str(name), value) for name, value in raw_configs.items()}
    for datasource, config_name in mapping.items():
        if config_name not in configs:
            raise ConfigError(
                f"datasource_reward_config_mapping.{datasource}: reward config '{config_name}' is not defined "
                f"in reward_configs (defined: {', '.join(sorted(configs)) or 'none'})."
            )
    top = {k: v for k, v in data.items() if k not in ("reward_configs", "datasource_reward_config_mapping")}
    values, ignored = _build(
        RewardSystemConfig,
        "",
        top,
        skip={"ignored_keys", "datasource_reward_config_mapping", "reward_configs"},
    )
    if values.get("answer_format", "auto") not in ANSWER_FORMATS:
        raise ConfigError(
            f"answer_format: expected one of {', '.join(ANSWER_FORMATS)}, got {values['answer_format']!r}."
        )
    if ignored:
        _log.warning("reward config: ignoring unknown top-level keys: %s", ", ".join(ignored))
    return RewardSystemConfig(
        datasource_reward_config_mapping={str(k): str(v) for k, v in mapping.items()},
        reward_configs=configs,
        ignored_keys=tuple(ignored),
        **values,
    )


def load_config(path: str | Path) -> RewardSystemConfig:
    """Read and check a reward YAML file (the official layout)."""
    import yaml

    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"The reward config {path} is not a regular file. Give the path of a YAML file."
            )
        with open(path, "rb") as f:
            raw = f.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"Cannot read the reward config {path}: {exc.strerror}. Check the path.") from exc
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigError(
            f"The reward config {path} is over {_MAX_CONFIG_BYTES // (1024 * 1024)} MiB; a reward YAML is a "
            "few hundred kB at most. Check the path."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"The reward config {path} is not UTF-8 text (byte {exc.start}). Save it as UTF-8."
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(
            f"{path} nests too deeply to be a reward config (the YAML parser gave up). Flatten it."
        ) from exc
    return parse_config(data or {})
