"""Prometheus metrics of one provider: its pool's processes, starts, warm hits, refusals
and the upstream's rate-limit utilization per credential.

Each provider owns a :class:`Metrics` and so its own ``CollectorRegistry``
(never the process-wide default one): two providers in one process, or a
test's, never mix their numbers. Counters are recorded as things happen;
process and queue gauges are read from the live pool at scrape time, so
there is no second set of books to drift. ``serve`` exposes the registry at
``GET /metrics``. Nothing here holds a secret: a credential appears only as
its :attr:`Credentials.id` (a short hash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from .._shapes import RateLimit

PREFIX = "litellm_claude_code_"
# The pool's states as an operator says them: a warm process waits for work, a busy one runs a turn.
STATE_NAMES = {
    "starting": "starting",
    "idle": "warm",
    "leased": "busy",
    "parked": "parked",
    "resetting": "resetting",
    "closing": "closing",
}
WARM_MODES = ("continue", "fresh", "reset", "parked")
START_REASONS = ("request", "spare")
RESET_OUTCOMES = ("rewound", "cleared", "failed")
RATE_LIMIT_STATUSES = ("allowed", "allowed_warning", "rejected")


@dataclass(frozen=True)
class PoolGauges:
    """The pool's live counts, taken at scrape time."""

    processes: Mapping[str, int]  # by pool state value (``State.value``)
    queued: int
    running: int
    max_processes: int
    max_queue: int


class _PoolCollector(Collector):
    """Processes by state and the queue, read from whichever pool is watched now."""

    def __init__(self) -> None:
        self.source: Callable[[], PoolGauges] | None = None

    def collect(self) -> Iterator[Metric]:
        source = self.source
        if source is None:  # no pool yet (it starts with the first request), or the pool is off
            return
        gauges = source()
        processes = GaugeMetricFamily(
            PREFIX + "processes", "Claude Code processes by state (all count against the cap)", labels=["state"]
        )
        for state, name in STATE_NAMES.items():
            processes.add_metric([name], gauges.processes.get(state, 0))
        yield processes
        yield GaugeMetricFamily(PREFIX + "queue_depth", "Requests waiting for a process slot", value=gauges.queued)
        yield GaugeMetricFamily(PREFIX + "requests_running", "Requests holding a process slot", value=gauges.running)
        yield GaugeMetricFamily(
            PREFIX + "process_limit", "The cap on Claude Code processes", value=gauges.max_processes
        )
        yield GaugeMetricFamily(PREFIX + "queue_limit", "The cap on waiting requests", value=gauges.max_queue)


class Metrics:
    """One provider's metrics and the registry that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._pool = _PoolCollector()
        self.registry.register(self._pool)
        self._starts = Counter(
            PREFIX + "process_starts",
            "Claude Code processes launched: for a request that found no warm one, or as a spare",
            ["reason"],
            registry=self.registry,
        )
        self._hits = Counter(
            PREFIX + "warm_hits",
            "Requests served by a process already running, by how it was taken",
            ["mode"],
            registry=self.registry,
        )
        self._misses = Counter(
            PREFIX + "warm_misses", "Requests that had to wait for a new process", registry=self.registry
        )
        self._resets = Counter(
            PREFIX + "conversation_resets",
            "Conversations a warm process forgot to serve another: rewound (nothing of it stays), "
            "cleared (/clear, where the CLI refused the rewind), failed (the process was replaced)",
            ["outcome"],
            registry=self.registry,
        )
        self._rejected = Counter(
            PREFIX + "requests_rejected",
            "Requests refused with 429 at once, by why (queue_full: every process busy, every queue place taken)",
            ["reason"],
            registry=self.registry,
        )
        self._drift = Counter(
            PREFIX + "sdk_drift_refusals",
            "Requests refused (and resets replaced by a new process) because an SDK or CLI internal a "
            "promise leans on is not what was tested, by internal (`litellm-claude-code doctor` lists them)",
            ["internal"],
            registry=self.registry,
        )
        self._utilization = Gauge(
            PREFIX + "rate_limit_utilization",
            "Fraction (0-1) of a credential's upstream rate-limit window used, as Anthropic last reported it",
            ["credential", "window"],
            registry=self.registry,
        )
        self._resets_at = Gauge(
            PREFIX + "rate_limit_resets_at_seconds",
            "When a credential's upstream rate-limit window resets (Unix time)",
            ["credential", "window"],
            registry=self.registry,
        )
        self._status = Gauge(
            PREFIX + "rate_limit_status",
            "1 for a credential's upstream rate-limit status as last reported (allowed, allowed_warning, rejected)",
            ["credential", "status"],
            registry=self.registry,
        )
        self._zero_series()

    def _zero_series(self) -> None:
        """Every labelled counter's series exists from the first scrape, at 0."""
        for reason in START_REASONS:
            self._starts.labels(reason)
        for mode in WARM_MODES:
            self._hits.labels(mode)
        for outcome in RESET_OUTCOMES:
            self._resets.labels(outcome)
        self._rejected.labels("queue_full")

    # -- what the pool records -------------------------------------------
    def watch(self, source: Callable[[], PoolGauges] | None) -> None:
        """Read processes and queue from ``source`` at each scrape (the pool now in use)."""
        self._pool.source = source

    def record_start(self, reason: str) -> None:
        self._starts.labels(reason).inc()

    def record_lease(self, mode: str) -> None:
        """A request got its process: ``start`` is a miss, any other mode a warm hit."""
        if mode == "start":
            self._misses.inc()
        else:
            self._hits.labels(mode).inc()

    def record_reset(self, outcome: str | None) -> None:
        """How a reset ended: ``rewound``, ``cleared``, or None (failed)."""
        self._resets.labels(outcome or "failed").inc()

    def record_drift(self, internal: str) -> None:
        self._drift.labels(internal).inc()

    def record_rejected(self, reason: str = "queue_full") -> None:
        self._rejected.labels(reason).inc()

    def record_rate_limit(
        self, credential_id: str, window: str, utilization: float | None, resets_at: float | None
    ) -> None:
        """What the upstream last said of a credential's window (``five_hour``, ``seven_day``...)."""
        if utilization is not None:
            self._utilization.labels(credential_id, window).set(utilization)
        if resets_at is not None:
            self._resets_at.labels(credential_id, window).set(resets_at)

    def record_rate_limits(self, credential_id: str, limit: RateLimit) -> None:
        """A turn's rate-limit report (the CLI's latest), for the credential it ran with."""
        windows = {
            "five_hour": (limit.utilization_5h, limit.reset_5h),
            "seven_day": (limit.utilization_7d, limit.reset_7d),
        }
        if limit.window:  # the window that decided the status: its reset time, if it has none of its own
            utilization, resets_at = windows.get(limit.window, (None, None))
            windows[limit.window] = (utilization, limit.resets_at if resets_at is None else resets_at)
        for window, (utilization, resets_at) in windows.items():
            self.record_rate_limit(credential_id, window, utilization, resets_at)
        for status in RATE_LIMIT_STATUSES:
            self._status.labels(credential_id, status).set(1 if status == limit.status else 0)

    # -- what serve exposes ---------------------------------------------
    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition for a scrape's ``Accept`` header, and its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
