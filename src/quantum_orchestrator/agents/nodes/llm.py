"""``generative.llm_chat``: one chat completion against an OpenAI-compatible endpoint.

OpenAI, vLLM, Ollama, llama.cpp's server and LM Studio all answer ``POST {base_url}/chat/
completions``. The request goes through the runtime's shared, SSRF-guarded HTTP client. The
output carries the ``usage`` the endpoint reported; the server prices it (an agent is not
trusted with money).

With ``stream: true`` the answer is requested as Server-Sent Events and the text written so far
is sent as ``step.progress`` events (``{"delta": ...}``, batched every ~0.2 s and at most
``MAX_STREAM_PROGRESS_BYTES`` per step); the output is the same as without streaming.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import jsonschema

from quantum_orchestrator.agents.breaker import CircuitBreakers
from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes.http import retry_after
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.errors import StepError

NODE_TYPE = "generative.llm_chat"
DEFAULT_TIMEOUT = 60.0
# A 429 whose Retry-After fits within this many seconds (and half the step's timeout) is waited
# out here, on the same attempt; a longer one ends the attempt as retryable.
MAX_INLINE_WAIT = 30.0
MAX_INLINE_RETRIES = 2
_EXCERPT_CHARS = 300
# Streamed text is sent as progress at most this often (seconds), and at most this much per step.
PROGRESS_INTERVAL = 0.2
MAX_STREAM_PROGRESS_BYTES = 64 * 1024


def _invalid(message: str) -> StepError:
    return StepError(f"{NODE_TYPE}: {message}", code="invalid_params")


def _messages(params: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = params.get("system")
    if system is not None:
        messages.append({"role": "system", "content": str(system)})
    given = params.get("messages")
    prompt = params.get("prompt")
    if given is not None and prompt is not None:
        raise _invalid("give either messages or prompt, not both")
    if given is not None:
        if not isinstance(given, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in given
        ):
            raise _invalid("messages must be a list of {role, content} objects")
        messages.extend(given)
    elif prompt is not None:
        messages.append({"role": "user", "content": str(prompt)})
    if not any(m.get("role") != "system" for m in messages):
        raise _invalid("needs a prompt or messages")
    return messages


def _schema_instruction(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "system",
        "content": "Answer with one JSON value only, no prose and no code fences, valid against "
        "this JSON Schema: " + json.dumps(schema, separators=(",", ":")),
    }


def _parse_json(content: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The answer parsed and validated, or the reason it is not acceptable."""
    text = content.strip()
    # Models like to wrap JSON in a Markdown fence even when told not to.
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"does not match the schema at {where}: {error.message}"
    return value, None


def _merge_tool_call(calls: dict[int, dict[str, Any]], part: Any) -> None:
    """Add one streamed piece of a tool call (by index) to the calls read so far."""
    if not isinstance(part, dict):
        return
    index = part.get("index", 0)
    if not isinstance(index, int):
        return
    call = calls.setdefault(index, {"type": "function", "function": {"name": "", "arguments": ""}})
    if isinstance(part.get("id"), str):
        call["id"] = part["id"]
    if isinstance(part.get("type"), str):
        call["type"] = part["type"]
    function = part.get("function")
    if isinstance(function, dict):
        for key in ("name", "arguments"):
            if isinstance(function.get(key), str):
                call["function"][key] += function[key]


class _Chat:
    """One step's calls to the endpoint (a schema repair makes it two) and their usage."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        params: dict[str, Any],
        ctx: StepContext,
        breakers: CircuitBreakers | None = None,
    ):
        base_url = params.get("base_url")
        if not isinstance(base_url, str) or not base_url:
            raise _invalid("needs a base_url such as https://api.openai.com/v1")
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise _invalid("needs a model")
        timeout = params.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise _invalid("timeout must be a positive number of seconds")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = float(timeout)
        self.client = client
        self.breakers = breakers or CircuitBreakers()
        self.ctx = ctx
        self.headers = {"Idempotency-Key": ctx.idempotency_key}
        api_key = params.get("api_key")
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        stream = params.get("stream", False)
        if not isinstance(stream, bool):
            raise _invalid("stream must be true or false")
        self.stream = stream
        self.progress_bytes = 0
        self.options: dict[str, Any] = {}
        for name in ("temperature", "max_tokens", "tools"):
            if params.get(name) is not None:
                self.options[name] = params[name]
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.answered_model = model
        # The tool calls of the last answer (``generative.agent`` offers tools to the model).
        self.tool_calls: list[Any] | None = None

    async def complete(self, messages: list[dict[str, Any]]) -> tuple[str, str | None]:
        """One completion: the answer's text and finish reason."""
        body = {"model": self.model, "messages": messages, "stream": self.stream, **self.options}
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        for waited in range(MAX_INLINE_RETRIES + 1):
            response = await self._post(body)
            if self.stream and not 200 <= response.status_code < 300:
                try:
                    await response.aread()
                except httpx.HTTPError:
                    pass
                finally:
                    await response.aclose()
            delay = retry_after(response) if response.status_code == 429 else None
            if (
                delay is None
                or waited == MAX_INLINE_RETRIES
                or delay > min(MAX_INLINE_WAIT, self.timeout, self.ctx.timeout / 2)
            ):
                break
            self.ctx.logger.info("rate limited by the endpoint; waiting %.1fs", delay)
            await asyncio.sleep(delay)
        if self.stream and 200 <= response.status_code < 300:
            try:
                return await self._streamed(response)
            finally:
                await response.aclose()
        return self._answer(response)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            if self.stream:
                request = self.client.build_request(
                    "POST", self.url, json=body, headers=self.headers, timeout=self.timeout
                )
                return await self.breakers.call(
                    self.url, lambda: self.client.send(request, stream=True)
                )
            return await self.breakers.request(
                self.client, "POST", self.url, json=body, headers=self.headers, timeout=self.timeout
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise StepError(f"invalid base_url: {exc}", code="invalid_url") from exc
        except httpx.TimeoutException as exc:
            raise StepError(
                f"POST {self.url} timed out after {self.timeout}s",
                code="llm_timeout",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise StepError(
                f"POST {self.url} failed: {type(exc).__name__}: {exc}",
                code="network_error",
                retryable=True,
            ) from exc

    async def _streamed(self, response: httpx.Response) -> tuple[str, str | None]:
        """Read a streamed answer (``data: {...}`` chunks up to ``data: [DONE]``), sending the
        text written so far as progress; the answer's text and finish reason."""
        loop = asyncio.get_running_loop()
        parts: list[str] = []
        pending: list[str] = []
        finish_reason: str | None = None
        tool_calls: dict[int, dict[str, Any]] = {}
        usage: dict[str, Any] = {}
        last_sent = loop.time()
        try:
            async for line in response.aiter_lines():
                line = line.strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError as exc:
                    raise StepError(
                        f"POST {self.url} streamed something that is not JSON: "
                        f"{payload[:_EXCERPT_CHARS]}",
                        code="llm_bad_response",
                        retryable=True,
                    ) from exc
                if not isinstance(chunk, dict):
                    continue
                if isinstance(chunk.get("error"), dict):
                    message = chunk["error"].get("message") or "an error"
                    raise StepError(
                        f"POST {self.url} streamed an error: {str(message)[:_EXCERPT_CHARS]}",
                        code="llm_stream_error",
                        retryable=True,
                    )
                if isinstance(chunk.get("model"), str) and chunk["model"]:
                    self.answered_model = chunk["model"]
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta")
                    if not isinstance(delta, dict):
                        delta = {}
                    text = delta.get("content")
                    if isinstance(text, str) and text:
                        parts.append(text)
                        pending.append(text)
                    for call in delta.get("tool_calls") or []:
                        _merge_tool_call(tool_calls, call)
                    if choice.get("finish_reason"):
                        finish_reason = str(choice["finish_reason"])
                if pending and loop.time() - last_sent >= PROGRESS_INTERVAL:
                    await self._progress("".join(pending))
                    pending.clear()
                    last_sent = loop.time()
        except httpx.TimeoutException as exc:
            raise StepError(
                f"POST {self.url} timed out after {self.timeout}s while streaming",
                code="llm_timeout",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise StepError(
                f"POST {self.url} failed while streaming: {type(exc).__name__}: {exc}",
                code="network_error",
                retryable=True,
            ) from exc
        if pending:
            await self._progress("".join(pending))
        for name in ("prompt_tokens", "completion_tokens"):
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                setattr(self, name, getattr(self, name) + value)
        calls = [tool_calls[index] for index in sorted(tool_calls)]
        self.tool_calls = calls or None
        return "".join(parts), finish_reason

    async def _progress(self, text: str) -> None:
        """Send streamed text as progress, within the step's budget of progress bytes."""
        remaining = MAX_STREAM_PROGRESS_BYTES - self.progress_bytes
        if remaining <= 0:
            return
        raw = text.encode("utf-8")
        data: dict[str, Any] = {"delta": text}
        if len(raw) > remaining:
            data = {"delta": raw[:remaining].decode("utf-8", "ignore"), "truncated": True}
            self.progress_bytes = MAX_STREAM_PROGRESS_BYTES
        else:
            self.progress_bytes += len(raw)
        await self.ctx.progress(data)

    def _answer(self, response: httpx.Response) -> tuple[str, str | None]:
        status = response.status_code
        if not 200 <= status < 300:
            delay = retry_after(response)
            hint = f" (retry after {delay:g}s)" if delay is not None else ""
            raise StepError(
                f"POST {self.url} answered {status}{hint}: {response.text[:_EXCERPT_CHARS]}",
                code=f"llm_http_{status}",
                retryable=status >= 500 or status in (408, 429),
                retry_after=delay,
            )
        try:
            data = response.json()
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
            tool_calls = choice["message"].get("tool_calls")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise StepError(
                f"POST {self.url} answered something that is not a chat completion: "
                f"{response.text[:_EXCERPT_CHARS]}",
                code="llm_bad_response",
                retryable=True,
            ) from exc
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        for name in ("prompt_tokens", "completion_tokens"):
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                setattr(self, name, getattr(self, name) + value)
        if isinstance(data.get("model"), str) and data["model"]:
            self.answered_model = data["model"]
        self.tool_calls = tool_calls if isinstance(tool_calls, list) and tool_calls else None
        return str(content), choice.get("finish_reason")

    def usage(self) -> dict[str, Any]:
        """The tokens of every call of the step, summed."""
        return {
            "model": self.answered_model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def llm_chat_handler(resources: NodeResources) -> Handler:
    """Build the handler, bound to the runtime's shared resources."""

    async def llm_chat(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Ask for one completion; with ``response_schema``, parse, validate, repair once."""
        messages = _messages(params)
        schema = params.get("response_schema")
        if schema is not None:
            if not isinstance(schema, dict):
                raise _invalid("response_schema must be a JSON Schema object")
            try:
                jsonschema.validators.validator_for(schema).check_schema(schema)
            except jsonschema.SchemaError as exc:
                reason = f"response_schema is not a valid JSON Schema: {exc.message}"
                raise _invalid(reason) from exc
            messages = [_schema_instruction(schema), *messages]
        try:
            client = resources.http_client(extra_allow=ctx.http_allow)
        except ValueError as exc:
            raise StepError(
                f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
            ) from exc
        chat = _Chat(client=client, params=params, ctx=ctx, breakers=resources.breakers)
        content, finish_reason = await chat.complete(messages)
        output: dict[str, Any] = {"content": content, "finish_reason": finish_reason}
        if schema is not None:
            value, problem = _parse_json(content, schema)
            repaired = False
            if problem is not None:
                # One repair: show the model its answer and what is wrong with it.
                ctx.logger.info("the answer is not acceptable (%s); asking once more", problem)
                repair = [
                    *messages,
                    {"role": "assistant", "content": content},
                    {
                        "role": "user",
                        "content": f"Your answer is {problem}. Answer again with only the "
                        "corrected JSON value.",
                    },
                ]
                content, finish_reason = await chat.complete(repair)
                value, problem = _parse_json(content, schema)
                repaired = True
            if problem is not None:
                raise StepError(
                    f"the answer is {problem} (after one repair attempt): "
                    f"{content[:_EXCERPT_CHARS]}",
                    code="llm_invalid_json",
                )
            output = {
                "content": content,
                "finish_reason": finish_reason,
                "json": value,
                "repaired": repaired,
            }
        if chat.tool_calls:
            output["tool_calls"] = chat.tool_calls
        output["model"] = chat.answered_model
        output["usage"] = chat.usage()
        ctx.logger.info(
            "%s answered (%s): %d prompt + %d completion tokens%s",
            chat.answered_model,
            output.get("finish_reason") or "no finish reason",
            chat.prompt_tokens,
            chat.completion_tokens,
            f", {len(chat.tool_calls)} tool calls" if chat.tool_calls else "",
        )
        return output

    return llm_chat
