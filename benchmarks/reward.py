"""Reward-system throughput on this machine.

(a) Rule-decidable math items: glmv's RewardSystem (in-process fast path + 2 math-verify worker processes,
    cache) against calling math-verify's ``parse`` + ``verify`` item by item on the same extracted answers.
    The verdicts must agree item for item (asserted).
(b) GUI-agent (AndroidWorld, OSWorld, WebVoyager) and OCR items (rule-only, all in-process, result cache off)
    through RewardSystem.score, against the bare verifier calls on the same items: ``judge`` alone on
    pre-extracted answers, and ``extract_answer`` (response and ground truth) + ``judge``, so the pipeline's
    overhead (format gate, language-mix gate, routing, results, stats) is visible. Two more rows score OCR
    items whose reasoning is long (~6,000 English characters; ~3,000 Chinese characters), where the gates
    read the whole reply. Each figure is the best of ``--repeats`` runs, as CPU time
    (``time.process_time``, what the code costs) and as wall time (what a shared machine gave it).
    The official glmv_reward cannot be installed here (not on PyPI, no network to GitHub), so (b) reports
    glmv's absolute items/s only.

Run: python benchmarks/reward.py [--groups 150] [--group-size 8] [--rule-items 20000] [--repeats 3]
Prints a table and writes reward.json into --out DIR (default ~/.cache/glmv/benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

from glmv.reward import RewardItem, RewardSystem

T = "<think>Let me work it out.</think><answer><|begin_of_box|>{}<|end_of_box|></answer>"
P = "<think>Let me work it out.</think><|begin_of_box|>{}<|end_of_box|>"

# Ground truth → equivalent forms a policy writes, and typical wrong answers (MATH-style answers).
MATH = [
    ("42", ["42", "42.0"], ["41", "24", "44"]),
    (
        "\\frac{3}{4}",
        ["\\frac{3}{4}", "0.75", "\\dfrac{3}{4}", "3/4"],
        ["\\frac{4}{3}", "0.7", "\\frac{1}{4}"],
    ),
    ("-7", ["-7"], ["7", "-6"]),
    ("0.125", ["\\frac{1}{8}", "0.125"], ["0.25", "\\frac{1}{4}"]),
    ("2\\sqrt{3}", ["2\\sqrt{3}", "\\sqrt{12}"], ["3\\sqrt{2}", "\\sqrt{6}"]),
    ("\\frac{\\pi}{4}", ["\\frac{\\pi}{4}", "\\pi/4"], ["\\frac{\\pi}{2}", "\\pi"]),
    ("\\{1, 2\\}", ["\\{2, 1\\}", "\\{1,2\\}"], ["\\{1, 3\\}", "\\{1\\}"]),
    ("(-\\infty, 3)", ["(-\\infty, 3)", "(-\\infty,3)"], ["(-\\infty, 3]", "(3, \\infty)"]),
    ("x^2+2x+1", ["(x+1)^2", "x^2+2x+1"], ["x^2+1", "(x-1)^2"]),
    ("12", ["12"], ["13", "120"]),
    ("\\frac{5}{2}", ["2.5", "\\frac{5}{2}"], ["\\frac{2}{5}", "5"]),
    ("1000", ["1000"], ["100", "999"]),
]


def math_items(groups: int, size: int, seed: int = 0) -> list[tuple[str, str]]:
    """(ground truth, answer) pairs in prompt groups: one truth, ``size`` rollouts each."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(groups):
        truth, right, wrong = rng.choice(MATH)
        for _ in range(size):
            pairs.append((truth, rng.choice(right if rng.random() < 0.6 else wrong)))
    return pairs


def bench_math(groups: int, size: int) -> dict:
    from math_verify import parse, verify

    pairs = math_items(groups, size)
    start = time.perf_counter()
    baseline = [verify(parse(f"${g}$"), parse(f"${p}$")) for g, p in pairs]
    base_s = time.perf_counter() - start

    config = {
        "datasource_reward_config_mapping": {"math": "m"},
        "reward_configs": {
            "m": {"verifier_type": "math", "sympy_tolerance": 1e-6, "enable_llm_judge_fallback": False}
        },
        "math_workers": 2,
    }
    items = [
        RewardItem((T if i % 2 else P).format(p), T.format(g), question="q", datasource="math")
        for i, (g, p) in enumerate(pairs)
    ]
    with RewardSystem(config) as system:
        t0 = time.perf_counter()
        system.services.math.start(wait=True)
        startup_s = time.perf_counter() - t0
        start = time.perf_counter()
        results = system.score(items)
        ours_s = time.perf_counter() - start
        stats = system.stats["math"]
    ours = [r.reward == 1.0 for r in results]
    disagreements = [(pairs[i], baseline[i], ours[i]) for i in range(len(pairs)) if baseline[i] != ours[i]]
    assert not disagreements, f"verdicts differ from math-verify: {disagreements[:5]}"
    assert stats.errors == 0 and stats.timeouts == 0
    in_process = sum(
        1 for r in results if r.reason in ("exact match", "identical answers") or "numbers" in r.reason
    )
    return {
        "items": len(pairs),
        "group_size": size,
        "math_verify_items_per_s": len(pairs) / base_s,
        "glmv_items_per_s": len(pairs) / ours_s,
        "speedup": base_s / ours_s,
        "glmv_worker_startup_s": startup_s,
        "decided_in_process": in_process,
        "verdicts_agree": True,
        "accepted": sum(ours),
    }


GUI = {
    "AndroidWorld": [
        (
            '{"action_type": "click", "box_2d": [[100, 200, 180, 260]]}',
            '{"action_type": "click", "box_2d": [[110, 210, 190, 270]]}',
        ),
        ('{"action_type": "type", "text": "hello world"}', '{"action_type": "type", "text": "hello word"}'),
        ('{"action_type": "scroll", "direction": "down"}', '{"action_type": "scroll", "direction": "up"}'),
    ],
    "OSWorld": [
        ("left_click(start_box='[500, 300]')", "left_click(start_box='[510, 305]')"),
        ("type(content='Quarterly report 2024')", "type(content='quarterly report')"),
        (
            "scroll(start_box='[400, 400]', direction='down', step=5)",
            "scroll(start_box='[400, 410]', direction='down', step=3)",
        ),
    ],
    "WebVoyager": [
        ("Click [12]", "Click [12]"),
        ("Type [3]; [weather in Paris]", "Type [3]; [weather Paris]"),
        ("Scroll [WINDOW]; [down]", "Scroll [WINDOW]; [up]"),
    ],
    "ocr": [
        ("Hello World", "hello world"),
        ("Total: 1,234.56 USD", "Total: 1,234.56 USD"),
        ("The quick brown fox", "The quick brown f0x"),
    ],
}


LONG_REASONING = {
    "ocr (long EN reasoning)": ("ocr", "Let me read the text in the image line by line. " * 125),
    "ocr (long ZH reasoning)": ("ocr", "我们先逐行读取图片中的文字，再核对每一个字符。" * 130),
}


def _best(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) of ``repeats`` runs."""
    cpu = wall = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall


def _measure(system: RewardSystem, items: list[RewardItem], repeats: int) -> dict:
    """One workload: RewardSystem.score against bare verifier calls on the same items (same rewards)."""
    count = len(items)
    name = items[0].datasource
    verifier = system.get_verifier_from_datasource(name)
    answers = [verifier.extract_answer(item.response) for item in items]
    truths = [verifier.extract_answer(item.ground_truth) for item in items]

    def bare_judge() -> list[float]:
        return [verifier.judge(a, g) for a, g in zip(answers, truths, strict=True)]

    def bare_extract_judge() -> list[float]:
        extract = verifier.extract_answer
        return [verifier.judge(extract(i.response), extract(i.ground_truth)) for i in items]

    results = system.score(items)
    assert system.stats[name].errors == 0, system.stats[name].error_examples
    assert [r.reward for r in results] == bare_judge(), "the pipeline changed a reward"
    timings = {
        "score": _best(lambda: system.score(items), repeats),
        "extract_judge": _best(bare_extract_judge, repeats),
        "judge": _best(bare_judge, repeats),
    }
    row: dict[str, float | int] = {"items": count, "reply_chars": len(items[0].response)}
    for what, (cpu, wall) in timings.items():
        row[f"{what}_items_per_s_cpu"] = count / cpu
        row[f"{what}_items_per_s_wall"] = count / wall
    row["pipeline_overhead_us_per_item_cpu"] = (
        (timings["score"][0] - timings["extract_judge"][0]) / count * 1e6
    )
    row["mean_reward"] = sum(r.reward for r in results) / count
    row["glmv_items_per_s"] = row["score_items_per_s_cpu"]
    return row


def bench_rules(count: int, repeats: int) -> dict:
    config = {
        "datasource_reward_config_mapping": {name: name for name in GUI},
        "reward_configs": {
            "AndroidWorld": {"verifier_type": "AndroidWorld"},
            "OSWorld": {"verifier_type": "OSWorld"},
            "WebVoyager": {"verifier_type": "WebVoyager"},
            "ocr": {"verifier_type": "ocr", "enable_llm_judge_fallback": False},
        },
        "cache_size": 0,  # measure the verifiers, not the cache
    }
    workloads = {name: (name, "Let me work it out.") for name in GUI} | LONG_REASONING
    out = {}
    with RewardSystem(config) as system:
        for label, (name, reasoning) in workloads.items():
            cases = GUI[name]
            reply = "<think>" + reasoning.replace("{", "{{").replace("}", "}}") + T[T.index("</think>") :]
            items = [
                RewardItem(
                    reply.format(cases[i % len(cases)][0]),
                    T.format(cases[i % len(cases)][1]),
                    question=f"step {i // 8}",
                    datasource=name,
                )
                for i in range(count)
            ]
            out[label] = _measure(system, items, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=150)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--rule-items", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path.home() / ".cache" / "glmv" / "benchmarks",
        help="folder for reward.json",
    )
    args = parser.parse_args()

    math_result = bench_math(args.groups, args.group_size)
    rules = bench_rules(args.rule_items, args.repeats)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "math": math_result,
        "rule_items": rules,
        "official_glmv_reward": "not installable here (not on PyPI; GitHub unreachable): no side-by-side run",
    }
    print(f"\nReward throughput ({os.cpu_count()} CPUs, Python {platform.python_version()})\n")
    print(f"{'workload':<34}{'items':>8}{'items/s':>12}{'baseline items/s':>18}{'speed-up':>10}")
    m = math_result
    print(
        f"{'math (rule-decidable), glmv':<34}{m['items']:>8}{m['glmv_items_per_s']:>12.0f}"
        f"{m['math_verify_items_per_s']:>18.0f}{m['speedup']:>9.1f}x"
    )
    print(
        f"\n{'rule-only workload (in-process)':<30}{'chars':>7}{'score':>9}{'score':>9}{'extract':>9}"
        f"{'judge':>9}{'overhead':>10}"
    )
    print(
        f"{'items/s, best of ' + str(args.repeats):<30}{'':>7}{'CPU':>9}{'wall':>9}{'+judge':>9}{'alone':>9}{'µs/item':>10}"
    )
    for name, r in rules.items():
        print(
            f"{name:<30}{r['reply_chars']:>7}{r['score_items_per_s_cpu']:>9.0f}{r['score_items_per_s_wall']:>9.0f}"
            f"{r['extract_judge_items_per_s_cpu']:>9.0f}{r['judge_items_per_s_cpu']:>9.0f}"
            f"{r['pipeline_overhead_us_per_item_cpu']:>10.1f}"
        )
    print(
        "(score: RewardSystem.score, format + language-mix gates included; extract+judge / judge alone: bare "
        "verifier calls, CPU time; overhead: score − extract+judge, CPU µs per item)"
    )
    print(
        f"\nmath: verdicts agree with math-verify on all {m['items']} items; "
        f"{m['decided_in_process']} decided in-process; worker start-up {m['glmv_worker_startup_s']:.1f} s "
        "(not in the timing)."
    )
    path = args.out / "reward.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
