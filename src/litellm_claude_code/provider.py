"""The ``claude-code`` LiteLLM provider: glue between LiteLLM and :mod:`turn`.

Every failure leaves here as a LiteLLM exception (see :mod:`errors`), so the
proxy answers with the right HTTP status instead of an answer-shaped error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse, ModelResponseStream

from . import _turn as turn
from . import access_log
from ._claude.metrics import Metrics
from ._claude.pool import PoolLimits
from ._claude.processes import Places, Processes
from ._openai.response import fill_response, stream_chunks
from .errors import SDKDrift, to_litellm
from .settings import DeploymentTuning, Settings

logger = logging.getLogger(__name__)


class ClaudeCodeLLM(CustomLLM):
    """Answers chat completions with the Claude Code CLI, via the Claude Agent SDK.

    Nothing starts at construction: settings are read from the environment
    on first use unless given.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self._settings = settings
        self._processes: Processes | None = None
        self._reported: set[str] = set()  # ignored parameters already logged
        self.metrics = Metrics()  # its own registry: `serve` exposes it at GET /metrics

    @property
    def settings(self) -> Settings:
        """Read from the environment on first use, unless given (``serve`` hands its own)."""
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        if self._processes is not None:
            raise RuntimeError("the provider's settings cannot change once it has run a request")
        self._settings = settings

    @property
    def processes(self) -> Processes:
        """Every CLI process this provider runs (a pool, unless ``pool`` is off)."""
        if self._processes is None:
            settings = self.settings
            limits = PoolLimits(
                settings.max_processes,
                settings.max_queue,
                tuning=settings.pool_tuning(),
                max_starting=settings.max_starting,
            )
            places = Places(settings.workspace, settings.private_home, settings.runs_dir)
            self._processes = Processes(places, limits if settings.pool else None, metrics=self.metrics)
        return self._processes

    async def drain(self, grace: float) -> None:
        """Graceful stop: refuse new work, fail queued requests (503), give
        running ones ``grace`` seconds, then end every CLI process."""
        if self._processes is not None:
            await self._processes.drain(grace)

    def __enter__(self) -> ClaudeCodeLLM:
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """End the pool's warm processes now (safe from any thread or loop).

        Library users end them with this, or ``with ClaudeCodeLLM() as provider:``;
        ``serve`` drains instead (see ``drain``). Nothing is installed to do it at exit."""
        if self._processes is not None:
            self._processes.kill_all_now()

    async def check_internals(self) -> None:
        """Fail closed when an SDK or CLI internal a promise leans on changed
        (checked once per CLI binary; ``serve`` calls it before it listens).

        Raises:
            SDKDrift: naming the internal, the versions and the way out.
        """
        settings = self.settings
        await self.processes.check_internals(settings.cli_path, is_off=lambda name: not getattr(settings, name))

    def _failed(self, exc: BaseException, model: str) -> Exception:
        if isinstance(exc, SDKDrift):
            self.metrics.record_drift(exc.internal)
        kind = getattr(exc, "kind", None)
        access_log.note(error=type(exc).__name__ + (f"/{kind}" if isinstance(kind, str) else ""))
        return to_litellm(exc, model)

    def _prepare(self, model: str, messages: list[Any], kwargs: dict[str, Any], pooled: bool) -> turn.PreparedTurn:
        litellm_params = kwargs.get("litellm_params") or {}
        tuning = DeploymentTuning.from_litellm_params(litellm_params)
        timeout = kwargs.get("timeout")
        if timeout == getattr(litellm, "request_timeout", None):
            timeout = None  # LiteLLM's own default (6000 s): nobody chose it
        return turn.prepare(
            model=model,
            messages=messages,
            optional_params=kwargs.get("optional_params"),
            settings=self.settings.for_deployment(kwargs.get("api_base"), tuning),
            api_key=kwargs.get("api_key"),
            timeout=timeout,
            tuning=tuning,
            reported=self._reported,
            pooled=pooled,
        )

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return await self._complete(model, messages, kwargs, pooled=True)

    async def astreaming(  # type: ignore[override]  # LiteLLM passes keywords; it yields, not returns
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> AsyncGenerator[ModelResponseStream | GenericStreamingChunk, None]:
        async for chunk in self._stream(model, messages, kwargs, pooled=True):
            yield chunk

    # LiteLLM calls these for litellm.completion() without acompletion. Each
    # runs on a short-lived loop of its own, so its process is its own too.
    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        response: ModelResponse = _run_sync(lambda: self._complete(model, messages, kwargs, pooled=False))
        return response

    def streaming(  # type: ignore[override]  # an iterator of chunks, like astreaming
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> Iterator[ModelResponseStream | GenericStreamingChunk]:
        return _iterate_sync(self._stream(model, messages, kwargs, pooled=False))

    async def _complete(self, model: str, messages: list[Any], kwargs: dict[str, Any], pooled: bool) -> ModelResponse:
        try:
            prepared = self._prepare(model, messages, kwargs, pooled)
            await self.check_internals()
            answer = await turn.collect(prepared, self.processes)
        except Exception as exc:
            raise self._failed(exc, model) from exc
        return fill_response(
            kwargs.get("model_response") or ModelResponse(),
            model=model,
            text=answer.text,
            reasoning=answer.reasoning,
            result=answer.result,
            tool_calls=answer.tool_calls,
            freeform=prepared.tools.freeform,
        )

    async def _stream(
        self, model: str, messages: list[Any], kwargs: dict[str, Any], pooled: bool
    ) -> AsyncGenerator[ModelResponseStream | GenericStreamingChunk, None]:
        try:
            prepared = self._prepare(model, messages, kwargs, pooled)
            await self.check_internals()
        except Exception as exc:
            raise self._failed(exc, model) from exc
        chunks = stream_chunks(turn.run(prepared, self.processes), model, prepared.tools.freeform)
        try:
            async for chunk in chunks:
                yield chunk
        except Exception as exc:
            raise self._failed(exc, model) from exc
        finally:
            # Runs on completion, error and client disconnect (CancelledError
            # or GeneratorExit): closing run() ends the CLI process.
            await chunks.aclose()


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine from sync code, even when this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, make()).result()


def _iterate_sync(agen: AsyncGenerator[Any, None]) -> Iterator[Any]:
    """Drive an async generator on a private event loop, one item at a time."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(agen.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
