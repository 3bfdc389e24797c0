"""Any OpenAI-compatible chat server (llama.cpp's server, Ollama, vLLM, LM Studio) as the LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from parley.backends import ChatMessage
from parley.config import LlmConfig, OpenAICompatConfig
from parley.errors import BackendError


class OpenAICompatLlm:
    def __init__(self, config: OpenAICompatConfig) -> None:
        self._config = config
        api_key = config.api_key.get_secret_value() if config.api_key else "parley-local"
        self._client = AsyncOpenAI(
            base_url=str(config.base_url), api_key=api_key, timeout=config.timeout_s, max_retries=0
        )

    def reconfigure(self, config: LlmConfig) -> None:
        """Take a reloaded config's per-reply keys; the client stays as it is."""
        if isinstance(config, OpenAICompatConfig):
            self._config = config

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        try:
            chunks = await self._client.chat.completions.create(
                model=self._config.model,
                messages=cast(
                    "list[ChatCompletionMessageParam]",
                    [m.as_openai() for m in messages],
                ),
                max_tokens=self._config.max_reply_tokens,
                temperature=self._config.temperature,
                stream=True,
            )
        except openai.APIConnectionError as error:
            raise BackendError(
                f"Cannot reach the LLM server at {self._config.base_url} ({error}). Start it, or "
                "fix llm.base_url in your config."
            ) from None
        except openai.APIStatusError as error:
            raise BackendError(
                f"The LLM server at {self._config.base_url} refused the request: "
                f"{error.status_code} {error.message}"
            ) from None
        try:
            async for chunk in chunks:
                if chunk.choices and (text := chunk.choices[0].delta.content):
                    yield text
        except openai.APIError as error:
            raise BackendError(f"The LLM server stream failed: {error}") from None
        finally:
            # Closing the HTTP response is what stops a remote server generating.
            await chunks.close()

    async def aclose(self) -> None:
        await self._client.close()
