"""The OpenAI ``stop`` parameter: the answer's text ends before the first stop sequence.

The CLI has no stop sequences of its own, so the text is cut here, on its
way to the client; the turn still runs to its end so usage stays exact.
"""

from __future__ import annotations

from .._shapes import Restart, StreamItem, TextDelta, ToolCallDelta, TurnResult


class StopFilter:
    """Cuts the text at the first stop sequence, holding back just enough to
    see a sequence that arrives split across deltas."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.hit = False
        self._pending = ""
        self._hold = max((len(stop) for stop in stops), default=1) - 1

    def feed(self, text: str) -> str:
        if self.hit:
            return ""
        if not self.stops:
            return text
        self._pending += text
        cuts = [i for i in (self._pending.find(stop) for stop in self.stops) if i >= 0]
        if cuts:
            self.hit = True
            out, self._pending = self._pending[: min(cuts)], ""
            return out
        keep = len(self._pending) - self._hold
        out, self._pending = self._pending[:keep], self._pending[keep:]
        return out

    def flush(self) -> str:
        out, self._pending = ("" if self.hit else self._pending), ""
        return out

    def apply(self, item: StreamItem) -> list[StreamItem]:
        """What of ``item`` the client gets: text up to a stop, nothing after
        it, and the held-back tail before the result. A restart starts over."""
        if isinstance(item, Restart):  # the text seen so far is void: so is what it held or hit
            self.hit, self._pending = False, ""
            return [item]
        if isinstance(item, TextDelta):
            text = self.feed(item.text)
            return [TextDelta(text)] if text else []
        if isinstance(item, TurnResult):
            tail = self.flush()
            if self.hit:
                item.finish_reason = "stop"
            return [TextDelta(tail), item] if tail else [item]
        if isinstance(item, ToolCallDelta) and self.hit:
            return []
        return [item]
