"""The built-in verifiers, one module per group; they are registered in :mod:`glmv.reward.registry`."""

from glmv.reward.verifiers.base import Services, Verdict, Verifier, default_services

__all__ = ["Services", "Verdict", "Verifier", "default_services"]
