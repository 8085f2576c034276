"""The subscription limits each credential's CLI reports, logged when they change."""

from __future__ import annotations

import logging
from typing import Any

from .._shapes import RateLimit


class LimitWatch:
    """Each credential's latest limit report, logged when it changes (not at
    every request: utilization moves with each one). One per provider: no
    global state. A CLI process reports only when its view changes, so an
    answer without a report carries the credential's latest one."""

    def __init__(self, log: Any = None) -> None:
        self._log = log or logging.getLogger(__name__)
        self._latest: dict[str, RateLimit] = {}

    def latest(self, credential: str) -> RateLimit | None:
        """The credential's latest report, if one came."""
        return self._latest.get(credential)

    def update(self, credential: str, limit: RateLimit | None) -> RateLimit | None:
        """Record ``limit`` (None: no new report) and return the latest known one."""
        if limit is None:
            return self._latest.get(credential)
        before = self._latest.get(credential)
        self._latest[credential] = limit
        if before is None or (before.status, before.window, before.resets_at) != (
            limit.status,
            limit.window,
            limit.resets_at,
        ):
            self._report(credential, limit)
        return limit

    def _report(self, credential: str, limit: RateLimit) -> None:
        level = logging.INFO if limit.status == "allowed" else logging.WARNING
        # Only the windows the plan has: Ultra has no 5-hour one (weekly limits only).
        windows = (("5h", limit.utilization_5h), ("7d", limit.utilization_7d))
        shown = [f"{name} {value:.0%}" for name, value in windows if value is not None]
        self._log.log(
            level,
            "claude-code limits of credential %s: %s (window %s, resets at %s%s)",
            credential,
            limit.status,
            limit.window or "-",
            limit.resets_at or "-",
            "".join(f", {part}" for part in shown),
        )
