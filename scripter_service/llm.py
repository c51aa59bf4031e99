"""The agentic scripter's view of a chat model: one turn of an OpenAI-compatible
chat-completions API with tool calling.

``OpenAIChat`` talks to any such server (OpenAI, Ollama, llama.cpp, vLLM) through
the official ``openai`` client, with no retries (the caller owns the deadline) and a
timeout on every call. Failures come out as two exceptions the loop maps to a
fallback reason: ``LLMTimeout`` and ``LLMUnavailable`` (its base class).

Only counts, durations, status codes and exception types are logged: the messages
may hold personal text (calendar, messages, notes) and never reach a log line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
import structlog

log = structlog.get_logger(__name__)

# Some local servers (Ollama, llama.cpp) need no key, but the client insists on one.
PLACEHOLDER_API_KEY = "not-needed"
TEMPERATURE = 0.2


class LLMUnavailable(Exception):
    """The server could not be reached or answered with an error or garbage."""


class LLMTimeout(LLMUnavailable):
    """The call did not finish within its timeout."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 30.0  # per call; the loop may pass less when its deadline is near

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class AssistantTurn:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""

    def as_message(self) -> dict[str, Any]:
        """This turn as a chat message, to send back with the tool results."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


class ChatModel(Protocol):
    """One chat-completions turn. Raises LLMTimeout or LLMUnavailable."""

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        timeout_s: float,
        tool_choice: str | None = None,
    ) -> AssistantTurn: ...


class OpenAIChat:
    """``ChatModel`` over the official ``openai`` client."""

    def __init__(self, config: LLMConfig) -> None:
        if not config.configured:
            raise ValueError("LLM base URL and model are required")
        self.config = config
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or PLACEHOLDER_API_KEY,
            max_retries=0,
            timeout=config.timeout_s,
        )

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        timeout_s: float,
        tool_choice: str | None = None,
    ) -> AssistantTurn:
        timeout = max(0.01, min(self.config.timeout_s, timeout_s))
        kwargs: dict[str, Any] = {}
        if tools:
            kwargs["tools"] = tools
            if tool_choice:
                kwargs["tool_choice"] = tool_choice
        began = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.config.model,
                messages=messages,  # type: ignore[arg-type]  # plain JSON dicts; openai types them as TypedDicts
                temperature=TEMPERATURE,
                timeout=timeout,
                **kwargs,
            )
        except openai.APITimeoutError:
            log.warning("llm_call_failed", error="timeout", timeout_s=round(timeout, 2), ms=_ms(began))
            raise LLMTimeout("the LLM did not answer in time") from None
        except openai.APIStatusError as exc:
            log.warning("llm_call_failed", error="status", status=exc.status_code, ms=_ms(began))
            raise LLMUnavailable(f"the LLM answered HTTP {exc.status_code}") from None
        except Exception as exc:  # noqa: BLE001 - connection refused, a body that is not JSON, ...
            log.warning("llm_call_failed", error=type(exc).__name__, ms=_ms(began))
            raise LLMUnavailable(f"the LLM call failed: {type(exc).__name__}") from None
        try:
            turn = _turn(response)
        except LLMUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a response of an unexpected shape
            log.warning("llm_call_failed", error=type(exc).__name__, ms=_ms(began))
            raise LLMUnavailable("the LLM answered with an unexpected shape") from None
        usage = getattr(response, "usage", None)
        log.info(
            "llm_call",
            ms=_ms(began),
            finish_reason=turn.finish_reason,
            tool_calls=len(turn.tool_calls),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )
        return turn


def _turn(response: Any) -> AssistantTurn:
    choices = getattr(response, "choices", None)
    if not choices:
        log.warning("llm_call_failed", error="no_choices")
        raise LLMUnavailable("the LLM answered without a choice")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise LLMUnavailable("the LLM answered without a message")
    calls = []
    for n, call in enumerate(getattr(message, "tool_calls", None) or []):
        function = getattr(call, "function", None)
        if function is None:  # a non-function tool call: answered as an unknown tool
            calls.append(ToolCall(getattr(call, "id", "") or f"call_{n}", "", "{}"))
            continue
        calls.append(
            ToolCall(
                id=getattr(call, "id", "") or f"call_{n}",  # some local servers omit it
                name=str(function.name or ""),
                arguments=_arguments_text(function.arguments),
            )
        )
    content = message.content if isinstance(message.content, str) else None
    return AssistantTurn(content=content, tool_calls=calls, finish_reason=str(choice.finish_reason or ""))


def _arguments_text(raw: Any) -> str:
    """The arguments as JSON text; a server that sends an object gets it re-encoded."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        return json.dumps(raw, ensure_ascii=False)
    return "{}"


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 1)
