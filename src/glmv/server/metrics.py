"""Prometheus metrics of one server: requests, tokens, latencies, the queue and the engine's own per-request
timings (queue, prefill, first token, decode speed) where it measures them (``GET /metrics``).

Each app gets its own registry, so several servers in one process (tests) do not collide.
"""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from glmv.output.reply import RequestTimings

__all__ = ["ServerMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class ServerMetrics:
    """The counters, gauges and histograms ``glmv serve`` exports (all prefixed ``glmv_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "glmv_requests", "Chat requests by outcome.", ["endpoint", "status"], registry=r
        )
        self.prompt_tokens = Counter("glmv_prompt_tokens", "Prompt tokens processed.", registry=r)
        self.completion_tokens = Counter(
            "glmv_completion_tokens", "Completion tokens generated (reasoning included).", registry=r
        )
        seconds = partial(Histogram, buckets=_LATENCY_BUCKETS, registry=r)
        self.latency = seconds("glmv_request_latency_seconds", "End-to-end request latency.")
        self.ttft = seconds("glmv_time_to_first_token_seconds", "Time to the first generated text.")
        measured = " (engines that measure it)."
        self.queue_time = seconds(
            "glmv_engine_queue_seconds", "Time a request waited in the engine for a batch slot" + measured
        )
        self.prefill_time = seconds(
            "glmv_engine_prefill_seconds", "Time the engine took to compute a request's prompt" + measured
        )
        self.engine_first_token = seconds(
            "glmv_engine_first_token_seconds",
            "Time from a request reaching the engine to its first token" + measured,
        )
        self.decode_rate = Histogram(
            "glmv_engine_decode_tokens_per_second",
            "Decode speed of each request, its choices together" + measured,
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.running = Gauge("glmv_requests_running", "Generations running now.", registry=r)
        self.queued = Gauge("glmv_queue_depth", "Requests waiting for a generation slot.", registry=r)
        self.cancelled = Counter(
            "glmv_requests_cancelled", "Generations stopped by a client disconnect.", registry=r
        )

    def observe_timings(self, timings: RequestTimings) -> None:
        """The engine's own timings of one request."""
        for histogram, value in (
            (self.queue_time, timings.queue_s),
            (self.prefill_time, timings.prefill_s),
            (self.engine_first_token, timings.first_token_s),
            (self.decode_rate, timings.decode_tokens_per_s),
        ):
            if value is not None:
                histogram.observe(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
