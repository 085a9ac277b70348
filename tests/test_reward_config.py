"""Reward configs are checked when they load: numbers out of range, NaN, hostile YAML and files that are not
regular files are a ConfigError naming the key (or the file), never a failure mid-training."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from glmv.errors import ConfigError
from glmv.reward import RewardSystem, load_config


def config(top: dict | None = None, m: dict | None = None, o: dict | None = None) -> str:
    """A small valid config as YAML text, with ``top`` keys and keys for its math (``m``) and ocr (``o``)
    verifier configs."""
    data = {
        **(top or {}),
        "datasource_reward_config_mapping": {"math": "m", "ocr": "o"},
        "reward_configs": {
            "m": {"verifier_type": "math", "enable_llm_judge_fallback": False, **(m or {})},
            "o": {"verifier_type": "ocr", "enable_llm_judge_fallback": False, **(o or {})},
        },
    }
    return yaml.safe_dump(data)


def with_top(**keys) -> str:
    return config(top=keys)


def with_verifier(name: str, **keys) -> str:
    return config(**{name: keys})


NAN, INF = float("nan"), float("inf")

# (the config text, what the error must say)
INVALID = [
    (with_top(math_timeout=-1), "math_timeout: must be greater than 0 and at most 86400 seconds, got -1"),
    (with_top(math_timeout=0), "math_timeout: must be greater than 0"),
    (with_top(math_timeout=NAN), "math_timeout: must be greater than 0"),
    (with_top(math_timeout=INF), "math_timeout: must be greater than 0"),
    (with_top(math_timeout="soon"), "math_timeout: expected float, got str 'soon'"),
    (with_top(math_timeout=1e7), "math_timeout: must be greater than 0 and at most 86400 seconds"),
    (with_top(judge_timeout=-5), "judge_timeout: must be greater than 0"),
    (with_top(math_workers=0), "math_workers: must be at least 1 and at most 256, got 0"),
    (with_top(math_workers=-2), "math_workers: must be at least 1"),
    (with_top(math_workers=2.5), "math_workers: expected int, got float 2.5"),
    (with_top(math_workers=100_000), "math_workers: must be at least 1 and at most 256"),
    (with_top(math_workers=True), "math_workers: expected int, got bool True"),
    (with_top(judge_retries=-1), "judge_retries: must be at least 0"),
    (with_top(judge_concurrency=0), "judge_concurrency: must be at least 1"),
    (with_top(cache_size=-1), "cache_size: must be at least 0"),
    (with_verifier("m", sympy_tolerance=-1.0e-6), "reward_configs.m.sympy_tolerance: must be at least 0"),
    (with_verifier("m", sympy_tolerance=NAN), "reward_configs.m.sympy_tolerance: must be at least 0"),
    (with_verifier("m", llm_max_tokens=0), "reward_configs.m.llm_max_tokens: must be at least 1"),
    (with_verifier("m", llm_temperature=-0.1), "reward_configs.m.llm_temperature: must be at least 0"),
    (with_verifier("m", llm_top_p=0), "reward_configs.m.llm_top_p: must be greater than 0 and at most 1"),
    (with_verifier("m", llm_top_p=1.5), "reward_configs.m.llm_top_p: must be greater than 0 and at most 1"),
    (
        with_verifier("o", edit_distance_upper_bound=2),
        "reward_configs.o.edit_distance_upper_bound: must be at least 0 and at most 1, got 2",
    ),
    (
        with_verifier("o", edit_distance_lower_bound=0.9, edit_distance_upper_bound=0.5),
        "reward_configs.o: edit_distance_lower_bound (0.9) must not be above edit_distance_upper_bound (0.5)",
    ),
    ("[" * 100_000 + "]" * 100_000, "nests too deeply to be a reward config"),
    ("a:\n" + "".join(" " * i + "a:\n" for i in range(1, 5000)), "nests too deeply to be a reward config"),
]


@pytest.mark.parametrize(
    ("text", "message"), INVALID, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(INVALID)]
)
def test_an_invalid_config_is_refused_when_it_loads(tmp_path, text, message):
    path = tmp_path / "reward.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        with_top(math_timeout=0.5, judge_timeout=86400, math_workers=1, judge_retries=0, cache_size=0),
        with_top(math_workers=2.0),  # a whole float is an int
        with_verifier("m", sympy_tolerance=0, llm_temperature=0, llm_top_p=1, llm_max_tokens=1),
        with_verifier("o", edit_distance_lower_bound=0.5, edit_distance_upper_bound=0.5),
    ],
)
def test_edge_values_load(tmp_path, text):
    path = tmp_path / "reward.yaml"
    path.write_text(text, encoding="utf-8")
    with RewardSystem.from_yaml(path) as system:
        assert set(system.config.reward_configs) == {"m", "o"}


def test_a_config_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "reward.yaml"
    path.write_bytes(config().encode("utf-8") + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path)


def test_a_config_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "reward.yaml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(path)


def test_the_cli_names_the_bad_key_in_one_line(tmp_path):
    (tmp_path / "reward.yaml").write_text(with_top(math_timeout=-1), encoding="utf-8")
    (tmp_path / "data.jsonl").write_text('{"answer": "a", "gt_answer": "4", "datasource": "math"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "glmv", "reward", "score", "-c", "reward.yaml", "data.jsonl"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "math_timeout: must be greater than 0" in " ".join(done.stderr.split())
