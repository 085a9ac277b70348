"""The reward pipeline end to end: config loading, gates, get_reward, logs, errors, caching and timeouts."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from glmv.errors import ConfigError
from glmv.reward import RewardItem, RewardSystem, load_config
from glmv.reward.format import check_format

V41 = "<think>{t}</think><answer><|begin_of_box|>{a}<|end_of_box|></answer>"
V45 = "<think>{t}</think><|begin_of_box|>{a}<|end_of_box|>"

# The layout of the official configs/full_config.yaml (judge prompts shortened), loaded unchanged.
OFFICIAL = textwrap.dedent("""
    reward_log_dir: "logs/reward_judge"
    judge_retries: 0

    datasource_reward_config_mapping:
      default: "general_verifier_config"
      math: "math_verifier_config"
      ocr: "ocr_verifier_config"
      counting: "counting_verifier_config"
      geoguess: "geoquesteoquest_verifier_config"
      AndroidWorld: "androidworld_verifier_config"
      language_mix: "language_mix_verifier_config"

    reward_configs:
        geoquesteoquest_verifier_config:
            verifier_type: "geoquest"
            strict_boxed_extraction: true
            llm_api_key:
              - "your_api_keys"
            llm_judge_url:
              - "http://127.0.0.1:9/api/paas/v4/chat/completions"
            llm_model:
              - glm-4-flash
            llm_max_tokens: 4096
            llm_temperature: 0.8
            llm_top_p: 0.6
            model_type: "100b"
            reasoning: true
            llm_judge_prompt_template: |
                输出JSON {"analysis": "...", "score": x}
                地点名称: {place_name}
                地点地址: {address}
                模型分析结论: {predict}
        math_verifier_config:
            verifier_type: "math"
            sympy_tolerance: 1.0e-6
            strict_boxed_extraction: true
            enable_llm_judge_fallback: false
        general_verifier_config:
            verifier_type: "general"
            llm_api_key: "your_api_keys"
            llm_judge_url: "http://127.0.0.1:9/api/paas/v4/chat/completions"
            llm_model: glm-4-flash
            answer_extraction_regex: "^<think>(.*?)</think>(?P<answer>.*)$"
            llm_judge_prompt_template: |
                Question: {question}
                Response: {predict}
                Ground Truth: {label}
        ocr_verifier_config:
            verifier_type: "ocr"
            strict_boxed_extraction: true
            edit_distance_upper_bound: 1.0
            edit_distance_lower_bound: 0.0
            enable_llm_judge_fallback: false
        counting_verifier_config:
            verifier_type: "counting"
            strict_boxed_extraction: true
        androidworld_verifier_config:
            verifier_type: "AndroidWorld"
            extract_answer_file_path: "scripts/gui_agent/AndroidWorld.py"
            extract_answer_func_name: "extract_answer"
            judge_func_path: "scripts/gui_agent/AndroidWorld.py"
            judge_func_name: "judge"
            load_once: True
        language_mix_verifier_config:
            verifier_type: "language_mix"
""")


@pytest.fixture
def system(tmp_path):
    path = tmp_path / "full_config.yaml"
    path.write_text(OFFICIAL, encoding="utf-8")
    with RewardSystem.from_yaml(path) as s:
        yield s


def test_official_layout_loads_unchanged(tmp_path, caplog):
    path = tmp_path / "c.yaml"
    path.write_text(OFFICIAL, encoding="utf-8")
    config = load_config(path)
    assert config.reward_log_dir == "logs/reward_judge" and config.enable_mix_verifier
    geo = config.reward_configs["geoquesteoquest_verifier_config"]
    assert geo.llm_max_tokens == 4096 and geo.ignored_keys == ("model_type", "reasoning")
    assert config.reward_configs["counting_verifier_config"].llm_model == "glm-4-flash"  # official default
    assert "model_type, reasoning" in caplog.text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c.replace('verifier_type: "counting"', 'verifier_type: "countin"'),
            "reward_configs.counting_verifier_config.verifier_type: unknown verifier type 'countin'",
        ),
        (
            lambda c: c.replace('counting: "counting_verifier_config"', 'counting: "nope"'),
            "datasource_reward_config_mapping.counting: reward config 'nope' is not defined",
        ),
        (
            lambda c: (
                c.replace('        extract_answer_func_name: "extract_answer"\n', "")
                .replace('verifier_type: "AndroidWorld"', 'verifier_type: "file_based"')
                .replace('        extract_answer_file_path: "scripts/gui_agent/AndroidWorld.py"\n', "")
            ),
            "reward_configs.androidworld_verifier_config: missing required key 'extract_answer_file_path'",
        ),
        (
            lambda c: c.replace("sympy_tolerance: 1.0e-6", "sympy_tolerance: small"),
            "reward_configs.math_verifier_config.sympy_tolerance: expected float",
        ),
        (
            lambda c: c.replace(
                'llm_judge_url: "http://127.0.0.1:9/api/paas/v4/chat/completions"\n'
                "        llm_model: glm-4-flash\n        answer",
                "answer",
            ),
            "reward_configs.general_verifier_config: missing required key 'llm_judge_url'",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path, edit, message):
    path = tmp_path / "c.yaml"
    path.write_text(edit(OFFICIAL), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        RewardSystem.from_yaml(path)
    assert message in str(info.value)


def test_unmapped_datasource_is_a_clear_error(system):
    with pytest.raises(ConfigError, match="No reward config found for datasource: physics"):
        system.get_reward("q", V41.format(t="", a="1"), V41.format(t="", a="1"), datasources="physics")


@pytest.mark.parametrize(
    ("reply", "auto", "answer_tags", "plain"),
    [
        (V41.format(t="x", a="1"), True, True, False),
        (V45.format(t="x", a="1"), True, False, True),
        ("<think>x</think>\n<answer>\n<|begin_of_box|>1<|end_of_box|>\n</answer>\n", True, True, False),
        ("<|begin_of_box|>1<|end_of_box|>", False, False, False),
        (
            "<think>x</think><answer><|begin_of_box|>1<|end_of_box|><|begin_of_box|>2<|end_of_box|></answer>",
            False,
            False,
            False,
        ),
        ("<think>x</think><answer>\\boxed{1}</answer>", False, False, False),
        ("<think>x</think>text <answer><|begin_of_box|>1<|end_of_box|></answer>", False, False, False),
        ("<think>x<think>y</think><answer>1</answer>", False, False, False),
    ],
)
def test_format_gate(reply, auto, answer_tags, plain):
    assert (check_format(reply, "auto") is None) is auto
    assert (check_format(reply, "answer_tags") is None) is answer_tags
    assert (check_format(reply, "plain") is None) is plain


def test_get_reward_is_drop_in(system, tmp_path):
    truth = "<think>\nI need to add 15 and 27.\n15 + 27 = 42\n</think>\n<answer>\n<|begin_of_box|>42<|end_of_box|>\n</answer>"
    answers = [
        V41.format(t="15+27=42", a="42"),
        V45.format(t="15+27", a="42.0"),
        V41.format(t="", a="41"),
        "42",
    ]
    rewards, extracted, gts = system.get_reward(
        ["What is 15 + 27?"] * 4,
        answers,
        [truth] * 4,
        uuids=["a", "b", "c", "d"],
        answer_lengths=[10, 11, 12, 1],
        datasources=["math"] * 4,
        log_reward_judge=True,
        save_dir=str(tmp_path),
        current_iteration=3,
        return_extracted_answers=True,
    )
    assert rewards == [1.0, 1.0, 0.0, 0.0]
    assert extracted == ["42", "42.0", "41", None] and gts == ["42", "42", "42", None]
    folder = tmp_path / "math"
    passing = [json.loads(line) for line in (folder / "rollout_reward_pass@k.jsonl").read_text().splitlines()]
    assert len(passing) == 4 and not (folder / "rollout_reward_not_pass@k.jsonl").exists()
    assert list(passing[0]) == [
        "current_iteration",
        "prompt",
        "image_file",
        "answer",
        "gt_answer",
        "reward",
        "answer_token_length",
        "reward_sum_of_this_prompt",
        "uuid",
    ]
    assert passing[0]["reward_sum_of_this_prompt"] == 2.0 and passing[0]["current_iteration"] == 3
    correct = (folder / "rollout_reward_correct.jsonl").read_text().splitlines()
    incorrect = (folder / "rollout_reward_incorrect.jsonl").read_text().splitlines()
    assert [json.loads(x)["uuid"] for x in correct] == ["a", "b"]
    assert [json.loads(x)["uuid"] for x in incorrect] == ["c", "d"]
    assert system.get_reward("q", V41.format(t="", a="7"), V41.format(t="", a="7"), datasources="math") == [
        1.0
    ]
    with pytest.raises(ValueError, match="same"):
        system.get_reward(["q", "q"], ["a", "b"], ["c", "d"], datasources=["math", "ocr"])


def test_language_mix_gate(system):
    chinese = "这是一个很长的中文段落" * 6
    english = " ".join(["word"] * 210)
    mixed = V41.format(t=f"{chinese}\n\n{english}", a="42")
    (result,) = system.score([RewardItem(mixed, V41.format(t="", a="42"), datasource="math")])
    assert result.reward == 0.0 and result.reason.startswith("language mix")


def test_bad_ground_truth_is_an_error_not_a_silent_zero(system):
    results = system.score(
        [
            # A reply-shaped ground truth that fails the gate (no </think>): an error, even though the
            # response itself fails the gate too.
            {"answer": "7", "gt_answer": "<think>seven", "datasource": "counting"},
            {
                "answer": V41.format(t="", a="7"),
                "gt_answer": V41.format(t="", a="seven"),
                "datasource": "counting",
            },
        ]
    )
    assert results[0].reward == 0.0 and "gate" in (results[0].error or "")
    assert results[1].reward == 0.0 and results[1].error is None  # a plain wrong answer: no error
    assert system.stats["counting"].errors == 1


@pytest.mark.parametrize(
    ("truth", "datasource"),
    [
        ("7", "counting"),  # the answer itself
        (" 7\n", "counting"),
        (7, "counting"),  # a JSON number
        ("<answer>7</answer>", "counting"),
        ("<|begin_of_box|>7<|end_of_box|>", "counting"),
        ("The count is \\boxed{7}.", "counting"),
        ("<answer><|begin_of_box|>7<|end_of_box|></answer>", "counting"),
        (V41.format(t="I count.", a="7"), "counting"),  # the official layout
        (V45.format(t="I count.", a="7"), "counting"),  # GLM-4.5V / 4.6V
        ("7", "math"),
        ("\\frac{14}{2}", "math"),
        ("7", "ocr"),
        ('{"action_type": "click", "box_2d": [[100, 200, 180, 260]]}', "AndroidWorld"),
    ],
)
def test_ground_truth_forms_are_read_as_the_answer(system, truth, datasource):
    answers = {
        "AndroidWorld": V41.format(t="", a='{"action_type": "click", "box_2d": [[100, 200, 180, 260]]}'),
    }
    (result,) = system.score(
        [
            {
                "answer": answers.get(datasource, V41.format(t="", a="7")),
                "gt_answer": truth,
                "datasource": datasource,
            }
        ]
    )
    assert result.error is None and result.reward == 1.0, result


def test_bad_gui_ground_truth_is_counted(system):
    (result,) = system.score(
        [
            {
                "answer": V41.format(t="", a='{"action_type": "click"}'),
                "gt_answer": V41.format(t="", a='"oops"'),
                "datasource": "AndroidWorld",
            }
        ]
    )
    assert result.error is not None and system.stats["AndroidWorld"].errors == 1


def test_judge_errors_are_counted(system):
    # The general config points at 127.0.0.1:9 (nothing listens): the judge fails and says so.
    (result,) = system.score(
        [{"answer": V41.format(t="", a="Paris"), "gt_answer": V41.format(t="", a="Lyon")}]
    )
    assert result.reward == 0.0 and result.error is not None
    assert system.stats["default"].errors == 1 and system.stats["default"].judge_calls >= 1


def test_results_are_cached(system):
    item = RewardItem(V41.format(t="", a="\\frac{2}{4}"), V41.format(t="", a="0.5"), datasource="ocr")
    first, second = system.score([item, item])
    assert not first.cached and second.cached and first.reward == second.reward
    assert system.stats["ocr"].cache_hits == 1


def test_exponent_tower_times_out_and_is_counted(tmp_path):
    config = {
        "datasource_reward_config_mapping": {"math": "m"},
        "reward_configs": {"m": {"verifier_type": "math", "enable_llm_judge_fallback": False}},
        "math_timeout": 2,
        "math_workers": 1,
    }
    with RewardSystem(config) as system:
        system.services.math.start(wait=True)
        tower = V41.format(t="", a="5^{5^{5^{5^5}}}")
        truth = V41.format(t="", a="3")
        start = time.monotonic()
        first, again = system.score([RewardItem(tower, truth, datasource="math")] * 2)
        elapsed = time.monotonic() - start
        assert first.timed_out and first.reward == 0.0 and "timed out" in first.reason
        assert again.timed_out  # the second copy is answered from the cache, not a second timeout
        assert elapsed < 6
        assert system.stats["math"].timeouts == 2
        # The worker was replaced: the next check works.
        (after,) = system.score(
            [RewardItem(V41.format(t="", a="x^2+2x+1"), V41.format(t="", a="(x+1)^2"), datasource="math")]
        )
        assert after.reward == 1.0


def test_math_checks_run_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    from glmv.reward import MathChecker

    with MathChecker(workers=2, timeout=20) as checker:
        pairs = [
            ("\\frac{1}{3}", "\\frac{2}{6}"),
            ("\\{1,2\\}", "\\{2,1\\}"),
            ("x+1", "1+x"),
            ("\\pi", "3.14"),
        ] * 3
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda p: checker.check(*p), pairs))
    assert [o.equal for o in outcomes] == [True, True, True, False] * 3
    assert not any(o.error or o.timed_out for o in outcomes)
