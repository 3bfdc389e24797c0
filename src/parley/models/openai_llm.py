"""Any OpenAI-compatible chat server (llama.cpp's server, Ollama, vLLM, LM Studio) as the LLM,
or a pool of them serving the same model (llm.base_url, then llm.fallback_urls).

A reply goes to the first server not known to be down. One that cannot be reached, or answers
with a server error, before the reply's first token is marked down and the next is tried at
once: the user hears nothing of it. A server marked down is skipped for ``recheck_after_s``,
then checked with GET /models before it gets a reply again. A stream that fails after its
first token is not retried elsewhere: part of that reply may already be spoken.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from parley.config.settings import LlmConfig, OpenAICompatConfig
from parley.errors import BackendError
from parley.models.contracts import ChatMessage

log = logging.getLogger(__name__)

T = TypeVar("T")

# A health check is a GET /models: it must be quick, or a reply waits behind it.
_HEALTH_CHECK_TIMEOUT_S = 2.0
# Tool arguments are short; a longer answer is a model rambling, not arguments.
_MAX_ARGUMENT_TOKENS = 96

# How a server is asked for a reply held to a JSON schema: OpenAI's `json_schema` (vLLM, Ollama,
# llama.cpp's own server), or `json_object` with the schema beside it (llama-cpp-python's server).
JsonStyle = Literal["json_schema", "json_object"]


def _as_openai(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    return cast("list[ChatCompletionMessageParam]", [m.as_openai() for m in messages])


def _response_format(style: JsonStyle, schema: dict[str, Any]) -> dict[str, Any]:
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "arguments", "schema": schema}}
    return {"type": "json_object", "schema": schema}


@dataclass
class LlmEndpoint:
    url: str
    client: AsyncOpenAI
    down_until: float = 0.0  # time.monotonic(); 0 while it answers
    last_error: str = ""
    json_style: JsonStyle | None = None  # the way this server took a schema, once learnt

    @property
    def is_down(self) -> bool:
        return self.down_until > 0.0


class OpenAICompatLlm:
    def __init__(self, config: OpenAICompatConfig) -> None:
        self._config = config
        api_key = config.api_key.get_secret_value() if config.api_key else "parley-local"
        self.endpoints = [
            LlmEndpoint(
                str(url),
                AsyncOpenAI(
                    base_url=str(url), api_key=api_key, timeout=config.timeout_s, max_retries=0
                ),
            )
            for url in [config.base_url, *config.fallback_urls]
        ]

    def reconfigure(self, config: LlmConfig) -> None:
        """Take a reloaded config's per-reply keys; the servers stay as they are."""
        if isinstance(config, OpenAICompatConfig):
            self._config = config

    def _mark_down(self, endpoint: LlmEndpoint, reason: str) -> None:
        if not endpoint.is_down:
            log.warning(
                "LLM server %s is down (%s); replies go to the next server, and it is checked "
                "again in %.0f s",
                endpoint.url,
                reason,
                self._config.recheck_after_s,
            )
        endpoint.down_until = time.monotonic() + self._config.recheck_after_s
        endpoint.last_error = reason

    async def _is_back(self, endpoint: LlmEndpoint) -> bool:
        """A down server whose wait is over answers GET /models again."""
        if time.monotonic() < endpoint.down_until:
            return False
        try:
            await endpoint.client.with_options(timeout=_HEALTH_CHECK_TIMEOUT_S).models.list()
        except openai.APIError as error:
            self._mark_down(endpoint, f"health check: {error}")
            return False
        log.info("LLM server %s answers again", endpoint.url)
        endpoint.down_until, endpoint.last_error = 0.0, ""
        return True

    async def _on_first_server(self, request: Callable[[LlmEndpoint], Awaitable[T]]) -> T:
        """``request`` made of the first server not known to be down that answers it."""
        failures: list[str] = []
        for endpoint in self.endpoints:
            if endpoint.is_down and not await self._is_back(endpoint):
                failures.append(f"{endpoint.url}: down ({endpoint.last_error})")
                continue
            try:
                return await request(endpoint)
            except (openai.APIConnectionError, openai.InternalServerError) as error:
                # Connection refused, a timeout, or a 5xx: another server may well answer.
                self._mark_down(endpoint, str(error))
                failures.append(f"{endpoint.url}: {error}")
            except openai.APIStatusError as error:
                # A 4xx is about the request, and every server of the pool would say the same.
                raise BackendError(
                    f"The LLM server at {endpoint.url} refused the request: "
                    f"{error.status_code} {error.message}"
                ) from None
        raise BackendError(
            "Cannot reach any LLM server ("
            + "; ".join(failures)
            + "). Start one, or fix llm.base_url and llm.fallback_urls in your config."
        )

    async def _open_stream(
        self, messages: Sequence[ChatMessage]
    ) -> AsyncStream[ChatCompletionChunk]:
        return await self._on_first_server(
            lambda endpoint: endpoint.client.chat.completions.create(
                model=self._config.model,
                messages=_as_openai(messages),
                max_tokens=self._config.max_reply_tokens,
                temperature=self._config.temperature,
                stream=True,
            )
        )

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        chunks = await self._open_stream(messages)
        try:
            async for chunk in chunks:
                if chunk.choices and (text := chunk.choices[0].delta.content):
                    yield text
        except openai.APIError as error:
            raise BackendError(f"The LLM server stream failed: {error}") from None
        finally:
            # Closing the HTTP response is what stops a remote server generating.
            await chunks.close()

    async def complete_json(
        self, messages: list[ChatMessage], schema: dict[str, Any]
    ) -> dict[str, Any]:
        """A reply held to ``schema`` by the server's structured output (tool arguments)."""
        return await self._on_first_server(
            lambda endpoint: self._complete_json_at(endpoint, messages, schema)
        )

    async def _complete_json_at(
        self, endpoint: LlmEndpoint, messages: list[ChatMessage], schema: dict[str, Any]
    ) -> dict[str, Any]:
        styles: list[JsonStyle] = (
            [endpoint.json_style] if endpoint.json_style else ["json_schema", "json_object"]
        )
        refusals: list[str] = []
        for style in styles:
            try:
                response = await endpoint.client.chat.completions.create(
                    model=self._config.model,
                    messages=_as_openai(messages),
                    max_tokens=_MAX_ARGUMENT_TOKENS,
                    temperature=0.0,
                    response_format=cast(Any, _response_format(style, schema)),
                )
            except openai.APIStatusError as error:
                # A refusal of the format is a 400 or 422, or from llama-cpp-python's server a
                # 500 that names the field; other server errors mean the server is unwell.
                is_refusal = error.status_code in (400, 422) or "response_format" in str(error)
                if not is_refusal:
                    raise
                refusals.append(f"{style}: {error.status_code}")
                continue
            endpoint.json_style = style
            text = response.choices[0].message.content if response.choices else None
            try:
                parsed = json.loads(text or "{}")
            except json.JSONDecodeError:
                raise BackendError(
                    f"The LLM server at {endpoint.url} wrote arguments that are not JSON: "
                    f"{(text or '')[:80]!r}"
                ) from None
            return parsed if isinstance(parsed, dict) else {}
        raise BackendError(
            f"The LLM server at {endpoint.url} takes no JSON schema for a reply "
            f"({'; '.join(refusals)}); tool arguments are guessed from the words instead."
        )

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.client.close()
