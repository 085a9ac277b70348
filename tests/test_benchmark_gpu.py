"""``benchmarks/gpu.py --tiny``: the GPU benchmark's steps on a tiny checkpoint on the CPU, so the script runs the
first time a GPU is there. It must build, load, measure and write every figure the GPU run reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"


def test_the_tiny_run_writes_every_figure_of_the_gpu_run(tmp_path):
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--out", str(out), "--checkpoint", str(tmp_path / "model")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "gpu.json").read_text())
    assert result["compiled"] is False  # no CUDA: the tiny run decodes uncompiled
    assert result["kv_cache"].startswith("KV cache: static, 4 rows × 4,096 tokens")
    assert result["bandwidth_gb_s"] > 0 and result["model"]["decode_weight_bytes"] > 0
    limit = result["bandwidth_gb_s"] * 1e9 / result["model"]["decode_weight_bytes"]
    assert result["bandwidth_limit_tokens_per_s"] == pytest.approx(limit, rel=0.01)
    single = result["batch_1"]
    assert 1 <= single["tokens"] <= 8 and single["tokens_per_s"] > 0
    assert single["of_bandwidth_limit"] == pytest.approx(single["tokens_per_s"] / limit, abs=0.002)
    assert [run["requests"] for run in result["concurrent"]] == [2, 4]
    for run in result["concurrent"]:
        assert run["largest_batch"] == run["requests"]
        assert 0 < run["completion_tokens"] <= run["requests"] * 8 and run["tokens_per_s"] > 0
    image = result["image_ttft"]
    assert (image["width"], image["height"]) == (1920, 1080)
    assert (
        image["first_token_s"] > 0 and image["prompt_tokens"] > 2691
    )  # 39 × 69 merged patches of 28 px, and the text
    assert set(result["phases_s"]) >= {"build", "load", "batch_1", "concurrent_2", "concurrent_4", "image"}
    assert "batch-1 decode" in done.stdout and "TTFT, one 1920×1080 image" in done.stdout
