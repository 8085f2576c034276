"""The ``claude-code`` LiteLLM provider: glue between LiteLLM and :mod:`turn`.

Every failure leaves here as a LiteLLM exception (see :mod:`errors`), so the
proxy answers with the right HTTP status instead of an answer-shaped error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import replace
from typing import Any

import litellm
from claude_agent_sdk import project_key_for_directory
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse, ModelResponseStream

from . import _turn as turn
from . import access_log
from ._claude.credentials import claude_config_dir
from ._claude.drift import DriftCheck
from ._claude.limits import LimitWatch
from ._claude.metrics import Metrics
from ._claude.options import LaunchSpec
from ._claude.pool import OneShot, Pool, PoolLimits, Processes, SessionFactory
from ._claude.session import CLISession
from ._claude.workdirs import RunDir
from ._openai.response import ChunkFactory, CustomCalls, fill_response
from ._shapes import Conversation, ReasoningDelta, Restart, TextDelta, ToolCallDelta, TurnResult
from .errors import SDKDrift, lost_mid_answer, to_litellm
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
        self._pool: Pool | None = None
        self._run_dir: RunDir | None = None
        self._reported: set[str] = set()  # ignored parameters already logged
        self._limits = LimitWatch()  # each credential's limit status, logged when it changes
        self._drift = DriftCheck()  # the SDK and CLI internals we lean on, checked once per CLI binary
        self.metrics = Metrics()  # its own registry: `serve` exposes it at GET /metrics

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def _factory(self) -> SessionFactory:
        """Sessions whose scratch space lives in this provider's run directory."""
        if self._run_dir is None:
            settings = self.settings
            settings.ensure_dirs()
            private = claude_config_dir({"HOME": str(settings.private_home)})  # the CLI's, with a token
            project = project_key_for_directory(str(settings.workspace))
            # Each token or API key has its own HOME under the private one (credentials.credential_home).
            own = (
                claude_config_dir({"HOME": str(h)})
                for h in settings.private_home.iterdir()
                if h.is_dir() and not h.name.startswith(".")
            )
            homes = [private, *own]
            transcripts = tuple(home / "projects" / project for home in (*homes, claude_config_dir()))
            backups = tuple(home / "backups" for home in homes)
            self._run_dir = RunDir.claim(settings.runs_dir, transcripts, backups)
        scratch = self._run_dir.path

        def make(spec: LaunchSpec, conversation: Conversation, on_exit: Callable[[Any], None]) -> CLISession:
            return CLISession(spec, conversation, scratch_root=scratch, on_exit=on_exit)

        return make

    def pool(self) -> Processes:
        """The warm-process pool of the running event loop, or a process per request.

        Sync calls each run on a short-lived loop of their own, so they never pool.
        """
        if not self.settings.pool or _one_shot.get():
            return OneShot(self._factory(), metrics=self.metrics)
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool.loop not in (None, loop):
            self._pool.kill_all_now()  # its loop is gone: nothing could await these
            self._pool = None
        if self._pool is None:
            settings = self.settings
            self._pool = Pool(
                PoolLimits(
                    max_processes=settings.max_processes,
                    max_queue=settings.max_queue,
                    tuning=settings.pool_tuning(),
                ),
                factory=self._factory(),
                metrics=self.metrics,
            )
        return self._pool

    async def drain(self, grace: float) -> None:
        """Graceful stop: refuse new work, fail queued requests (503), give
        running ones ``grace`` seconds, then end every CLI process."""
        if self._pool is not None:
            await self._pool.drain(grace)
        if self._run_dir is not None:
            self._run_dir.release()
            self._run_dir = None

    def __enter__(self) -> ClaudeCodeLLM:
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """End the pool's warm processes now (safe from any thread or loop).

        Library users end them with this, or ``with ClaudeCodeLLM() as provider:``;
        ``serve`` drains instead (see ``drain``). Nothing is installed to do it at exit."""
        if self._pool is not None:
            self._pool.kill_all_now()
            self._pool = None
        if self._run_dir is not None:
            self._run_dir.release()
            self._run_dir = None

    async def check_internals(self) -> None:
        """Fail closed when an SDK or CLI internal a promise leans on changed
        (checked once per CLI binary; ``serve`` calls it before it listens).

        Raises:
            SDKDrift: naming the internal, the versions and the way out.
        """
        settings = self.settings
        await self._drift.require(settings.cli_path, is_off=lambda name: not getattr(settings, name))

    def _failed(self, exc: BaseException, model: str) -> Exception:
        if isinstance(exc, SDKDrift):
            self.metrics.record_drift(exc.internal)
        kind = getattr(exc, "kind", None)
        access_log.note(error=type(exc).__name__ + (f"/{kind}" if isinstance(kind, str) else ""))
        return to_litellm(exc, model)

    def _prepare(self, model: str, messages: list[Any], kwargs: dict[str, Any]) -> tuple[turn.PreparedTurn, Settings]:
        tuning = DeploymentTuning.from_litellm_params(kwargs.get("litellm_params"))
        settings = self.settings.for_deployment(kwargs.get("api_base"), tuning)
        timeout = kwargs.get("timeout")
        if timeout == getattr(litellm, "request_timeout", None):
            timeout = None  # LiteLLM's own default (6000 s): nobody chose it
        prepared = turn.prepare(
            model=model,
            messages=messages,
            optional_params=kwargs.get("optional_params"),
            settings=settings,
            api_key=kwargs.get("api_key"),
            timeout=timeout,
            tuning=tuning,
            reported=self._reported,
        )
        litellm_params = kwargs.get("litellm_params") or {}
        metadata = litellm_params.get("metadata") or {}
        model_info = litellm_params.get("model_info") or {}
        access_log.note(
            model=metadata.get("model_group") or model,
            deployment=str(model_info["id"])[:12] if model_info.get("id") else None,
            credential=prepared.credential_id,
        )
        return prepared, settings

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        try:
            prepared, settings = self._prepare(model, messages, kwargs)
            await self.check_internals()
            answer = await turn.collect(prepared, settings, self.pool())
        except Exception as exc:
            raise self._failed(exc, model) from exc
        result = replace(
            answer.result, rate_limit=self._limits.update(prepared.credential_id, answer.result.rate_limit)
        )
        _note_usage(result)
        response = kwargs.get("model_response") or ModelResponse()
        return fill_response(
            response,
            model=model,
            text=answer.text,
            reasoning=answer.reasoning,
            result=result,
            tool_calls=answer.tool_calls,
            freeform=prepared.tools.freeform,
        )

    async def astreaming(  # type: ignore[override]  # LiteLLM passes keywords; it yields, not returns
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> AsyncGenerator[ModelResponseStream | GenericStreamingChunk, None]:
        try:
            prepared, settings = self._prepare(model, messages, kwargs)
            await self.check_internals()
        except Exception as exc:
            raise self._failed(exc, model) from exc
        chunks = ChunkFactory(model)
        items = turn.run(prepared, settings, self.pool())
        custom = CustomCalls(prepared.tools.freeform)
        try:
            shown = False  # has the client been sent any part of the answer?
            async for item in items:
                if isinstance(item, Restart):
                    if shown:  # what it got was cut off: an error, never a spliced answer
                        raise lost_mid_answer()
                    custom.drop()
                    continue  # nothing of the lost attempt reached the client: just go on
                for whole in custom.done_before(item):
                    yield chunks.custom_tool_call(whole)
                if isinstance(item, TextDelta):
                    yield chunks.text(item.text)
                elif isinstance(item, ReasoningDelta):
                    yield chunks.reasoning(item.text)
                elif isinstance(item, ToolCallDelta):
                    if custom.hold(item):
                        continue
                    yield chunks.tool_call(item)
                else:
                    limit = self._limits.update(prepared.credential_id, item.rate_limit)
                    _note_usage(item)
                    yield chunks.final(replace(item, rate_limit=limit))
                shown = True
        except Exception as exc:
            raise self._failed(exc, model) from exc
        finally:
            # Runs on completion, error and client disconnect (CancelledError
            # or GeneratorExit): closing run() ends the CLI process.
            await items.aclose()

    # LiteLLM calls these for litellm.completion() without acompletion.
    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        response: ModelResponse = _run_sync(lambda: self.acompletion(model, messages, **kwargs))
        return response

    def streaming(  # type: ignore[override]  # an iterator of chunks, like astreaming
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> Iterator[ModelResponseStream | GenericStreamingChunk]:
        return _iterate_sync(self.astreaming(model, messages, **kwargs))


def _note_usage(result: TurnResult) -> None:
    usage = result.usage
    prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    access_log.note(tokens_in=prompt, tokens_out=usage.output_tokens)


_one_shot: contextvars.ContextVar[bool] = contextvars.ContextVar("claude_code_one_shot", default=False)


def _run_one_shot(make: Callable[[], Any]) -> Any:
    _one_shot.set(True)
    return asyncio.run(make())


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine from sync code, even when this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return contextvars.copy_context().run(_run_one_shot, make)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(contextvars.copy_context().run, _run_one_shot, make).result()


def _iterate_sync(agen: AsyncGenerator[Any, None]) -> Iterator[Any]:
    """Drive an async generator on a private event loop, one item at a time."""
    loop = asyncio.new_event_loop()
    token = _one_shot.set(True)
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
        _one_shot.reset(token)
