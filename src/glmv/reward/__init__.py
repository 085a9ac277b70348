"""The GLM-V reward system: score model replies against ground truths for RL, with the official glmv_reward
YAML layout.

    from glmv.reward import RewardSystem, get_verifier

    system = RewardSystem.from_yaml("reward.yaml")
    results = system.score([{"answer": reply, "gt_answer": truth, "datasource": "math"}])
    rewards = system.get_reward(prompts, answers, gt_answers, datasources="math")   # the official call

    verifier = get_verifier("math")
    verifier.judge(verifier.extract_answer(reply), verifier.extract_answer(truth))

Built-in verifier types: math, physics, chemistry, biology, geography, liberal_arts, chart, counting, mmsi,
multi_image, ocr, vqa, general, geoquest, long_doc, language_mix, AndroidWorld, OSWorld, WebVoyager and
file_based; more register through the ``glmv.verifiers`` entry-point group.

Ground truths: a full reply in the official layout, an answer in box markers, or the answer itself (see
:mod:`glmv.reward.truth`). The LLM judge reaches its model through an :class:`~glmv.engine.Engine`
(:class:`EngineTransport`): a local model, ``glmv serve``, any OpenAI-compatible server or a scripted engine.
"""

from glmv.reward.config import RewardSystemConfig, load_config
from glmv.reward.judge import Endpoint, EngineTransport, JudgeCallError, JudgeParams, JudgeTransport
from glmv.reward.mathcheck import MathChecker, MathOutcome
from glmv.reward.registry import available_verifiers, get_verifier, register_verifier
from glmv.reward.system import DatasourceStats, RewardItem, RewardResult, RewardSystem
from glmv.reward.verifiers.base import Verdict, Verifier

__all__ = [
    "DatasourceStats",
    "Endpoint",
    "EngineTransport",
    "JudgeCallError",
    "JudgeParams",
    "JudgeTransport",
    "MathChecker",
    "MathOutcome",
    "RewardItem",
    "RewardResult",
    "RewardSystem",
    "RewardSystemConfig",
    "Verdict",
    "Verifier",
    "available_verifiers",
    "get_verifier",
    "load_config",
    "register_verifier",
]
