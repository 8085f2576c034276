"""End every live CLI process when the proxy is told to stop.

uvicorn's graceful shutdown waits for in-flight responses, and a streamed
answer can run for minutes; a supervisor then kills the proxy and its CLI
children would be orphaned. So on SIGTERM/SIGINT the live CLI processes are
signalled first (their requests fail fast, which lets the shutdown finish),
then the previous handler runs. At interpreter exit, stragglers are killed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import weakref
from typing import Any

logger = logging.getLogger(__name__)

# Objects with a ``process()`` method returning the CLI process or None.
_live: weakref.WeakSet[Any] = weakref.WeakSet()
_installed = False
_lock = threading.Lock()


def track(session: Any) -> None:
    """Remember a session until it is garbage; install the hooks once."""
    _live.add(session)
    _install()


def untrack(session: Any) -> None:
    _live.discard(session)


def terminate_all(kill: bool = False) -> int:
    """Signal every live CLI process; returns how many were signalled."""
    count = 0
    for session in list(_live):
        process = session.process()
        if process is None or process.returncode is not None:
            continue
        with contextlib.suppress(ProcessLookupError, OSError):
            process.kill() if kill else process.terminate()
            count += 1
    return count


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(terminate_all, True)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    for signum in (signal.SIGTERM, signal.SIGINT):
        _chain(signum)


def _chain(signum: int) -> None:
    previous = signal.getsignal(signum)

    def handler(received: int, frame: Any) -> None:
        ended = terminate_all()
        if ended:
            logger.warning("stopping: ended %d running Claude Code process(es)", ended)
        if callable(previous):
            previous(received, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(received, signal.SIG_DFL)
            signal.raise_signal(received)

    try:
        signal.signal(signum, handler)
    except (ValueError, OSError):  # not the main thread of the main interpreter
        logger.debug("could not chain signal %s", signum)
