"""The stand-in's world: objects, the run state machine, the scheduler. Thread-safe.

Runs advance in time (model latency, ``sleep`` directives, expiry) both when someone looks
(every read first calls ``advance``) and by themselves (a scheduler thread wakes at the next
due time), so streams see events as they happen and expiry happens while nobody watches.
Every transition appends ``(event_name, object)`` to the run's event log; a stream is a reader
of that log from its segment's start to the next ``requires_action`` or terminal event.

Policy for what the real service leaves uncertain: cancelling a run in ``requires_action`` is
allowed (``cancelling``, then ``cancelled`` shortly after, like ``in_progress``).
"""

from __future__ import annotations

import copy
import random
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.standin.model import Plan, final_text, plan

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id with a real prefix and 24 alphanumerics."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(24))


class ApiError(Exception):
    """An OpenAI-style error answer."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


@dataclass
class StandinConfig:
    """Knobs of the stand-in.

    Attributes:
        latency_ms: model time before each model step (thinking, then answering).
        expires_after_s: run window (``expires_at = created_at + this``).
        poll_after_ms: value of the ``openai-poll-after-ms`` header, or None to send none.
        fault_429: fraction of /v1 requests answered 429 (with ``retry-after``).
        fault_500: fraction of /v1 requests answered 500.
        retry_after_s: the ``retry-after`` value of injected 429s.
        seed: seed of the fault-injection RNG.
        webhook_url: where background responses' webhooks go (None: no webhooks).
        webhook_secret: the ``whsec_`` secret signing them.
        webhook_duplicate_rate: fraction of webhooks delivered twice.
        stream_drop_after: cut every streamed response create after this many events (the
            connection drops; the response lives on and its stream can be resumed).
        session_results_race: how many first ``tool_result`` attempts per call an Agents
            session refuses with the registration-race 400 (``Unknown pending tool call``).
    """

    latency_ms: int = 0
    expires_after_s: int = 600
    poll_after_ms: int | None = None
    fault_429: float = 0.0
    fault_500: float = 0.0
    retry_after_s: float = 0.0
    seed: int = 0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_duplicate_rate: float = 0.0
    stream_drop_after: int | None = None
    session_results_race: int = 0


@dataclass
class RunState:
    """A run plus what the state machine needs."""

    obj: dict[str, Any]
    plan: Plan
    round: int = 0
    answered: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    next_at: float | None = None
    next_step: str | None = None
    tool_step: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return str(self.obj["status"])


class World:
    """Everything the stand-in knows, behind one lock."""

    def __init__(self, config: StandinConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rng = random.Random(config.seed)
        self.assistants: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, RunState] = {}
        self.steps: dict[str, list[dict[str, Any]]] = {}
        self.stats: dict[str, Any] = {}
        self.timers: list[Callable[[float], float | None]] = []
        self.closers: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self.reset_stats()
        self._thread = threading.Thread(
            target=self._schedule, name="standin-scheduler", daemon=True
        )
        self._thread.start()

    # -- bookkeeping --------------------------------------------------------------------------

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = {"requests": {}, "total": 0, "runs": {}, "responses": {}}

    def count(self, route: str) -> None:
        with self.lock:
            self.stats["requests"][route] = self.stats["requests"].get(route, 0) + 1
            self.stats["total"] += 1

    def run_stats(self, run_id: str) -> dict[str, Any]:
        runs: dict[str, dict[str, Any]] = self.stats["runs"]
        return runs.setdefault(
            run_id,
            {
                "submits": 0,
                "rejected_submits": 0,
                "transitions": [],
                "requires_action_at": [],
                "outputs_accepted_at": [],
            },
        )

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called (readers waiting for events give up)."""
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        for close in self.closers:
            close()
        with self.changed:
            self.changed.notify_all()

    # -- scheduler ----------------------------------------------------------------------------

    def _schedule(self) -> None:
        while not self._stop.is_set():
            with self.changed:
                now = self.clock()
                due: list[float] = []
                for run in list(self.runs.values()):
                    self.advance(run, now)
                    if run.status not in TERMINAL:
                        due.append(run.obj["expires_at"])
                        if run.next_at is not None:
                            due.append(run.next_at)
                for timer in list(self.timers):
                    nxt = timer(now)
                    if nxt is not None:
                        due.append(nxt)
                wait = min(due) - now if due else 1.0
                self.changed.wait(timeout=min(1.0, max(0.001, wait)))

    def wake(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self, thread_id: str, assistant: dict[str, Any], body: dict[str, Any]
    ) -> RunState:
        now = self.clock()
        created = int(now)
        tools = body.get("tools")
        tools = copy.deepcopy(tools if tools is not None else assistant.get("tools", []))
        text = self._latest_user_text(thread_id)
        for extra in body.get("additional_messages") or []:
            if extra.get("role", "user") == "user":
                text = _content_text(extra.get("content"))
        parallel = body.get("parallel_tool_calls")
        parallel = True if parallel is None else bool(parallel)
        obj: dict[str, Any] = {
            "id": new_id("run_"),
            "object": "thread.run",
            "created_at": created,
            "assistant_id": assistant["id"],
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": created + self.config.expires_after_s,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": body.get("model") or assistant.get("model", "gpt-4o"),
            "instructions": body.get("instructions") or assistant.get("instructions") or "",
            "tools": tools,
            "tool_resources": {},
            "metadata": body.get("metadata") or {},
            "incomplete_details": None,
            "usage": None,
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "truncation_strategy": body.get("truncation_strategy")
            or {"type": "auto", "last_messages": None},
            "response_format": body.get("response_format") or "auto",
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": parallel,
            "reasoning_effort": None,
        }
        run = RunState(obj=obj, plan=plan(text, tools, parallel=parallel))
        with self.changed:
            self.runs[obj["id"]] = run
            self.steps[obj["id"]] = []
            self._emit(run, "thread.run.created", now, status=False)
            self._emit(run, "thread.run.queued", now)
            run.next_at, run.next_step = now, "start"
            self.changed.notify_all()
        return run

    def advance(self, run: RunState, now: float | None = None) -> None:
        """Apply every transition due by ``now``."""
        now = self.clock() if now is None else now
        with self.changed:
            seen = len(run.events)
            while run.status not in TERMINAL:
                expires = float(run.obj["expires_at"])
                due = run.next_at if run.next_at is not None else float("inf")
                if expires <= now and expires <= due:
                    self._expire(run, expires)
                elif due <= now:
                    step, run.next_at, run.next_step = run.next_step, None, None
                    getattr(self, f"_step_{step}")(run, due)
                else:
                    break
            if len(run.events) != seen:
                # Only a transition wakes the others: waking them for nothing made every
                # waiting reader and the scheduler wake each other in a loop (a busy core).
                self.changed.notify_all()

    def _emit(
        self,
        run: RunState,
        name: str,
        at: float,
        *,
        status: bool = True,
        data: dict[str, Any] | None = None,
    ) -> None:
        payload = copy.deepcopy(data if data is not None else run.obj)
        run.events.append((name, payload))
        if status and data is None:
            stats = self.run_stats(run.obj["id"])
            stats["transitions"].append([run.obj["status"], at])
            if run.obj["status"] == "requires_action":
                stats["requires_action_at"].append(at)

    def _step_start(self, run: RunState, at: float) -> None:
        run.obj["status"] = "in_progress"
        run.obj["started_at"] = int(at)
        self._emit(run, "thread.run.in_progress", at)
        delay = self.config.latency_ms / 1000 + run.plan.sleep_ms / 1000
        run.plan.sleep_ms = 0
        run.next_at, run.next_step = at + delay, "think"

    def _step_think(self, run: RunState, at: float) -> None:
        if run.plan.fail is not None and run.round == 0:
            code, message = run.plan.fail
            run.obj.update(
                status="failed", failed_at=int(at), last_error={"code": code, "message": message}
            )
            self._emit(run, "thread.run.failed", at)
            return
        if run.round < len(run.plan.rounds):
            self._ask_for_tools(run, at)
        else:
            self._complete(run, at)

    def _new_step(
        self, run: RunState, kind: str, details: dict[str, Any], at: float
    ) -> dict[str, Any]:
        step = {
            "id": new_id("step_"),
            "object": "thread.run.step",
            "created_at": int(at),
            "run_id": run.obj["id"],
            "assistant_id": run.obj["assistant_id"],
            "thread_id": run.obj["thread_id"],
            "type": kind,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
            "metadata": {},
            "expires_at": run.obj["expires_at"],
        }
        self.steps[run.obj["id"]].append(step)
        return step

    def _ask_for_tools(self, run: RunState, at: float) -> None:
        calls = run.plan.rounds[run.round]
        step = self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []}, at)
        run.tool_step = step
        self._emit(run, "thread.run.step.created", at, data=step)
        self._emit(run, "thread.run.step.in_progress", at, data=step)
        tool_calls: list[dict[str, Any]] = []
        for index, call in enumerate(calls):
            call_id = new_id("call_")
            head = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": "", "output": None},
            }
            for delta in (
                head,
                {"index": index, "type": "function", "function": {"arguments": call.arguments}},
            ):
                self._emit(
                    run,
                    "thread.run.step.delta",
                    at,
                    data={
                        "id": step["id"],
                        "object": "thread.run.step.delta",
                        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [delta]}},
                    },
                )
            tool_calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            )
        step["step_details"]["tool_calls"] = [
            {**c, "function": {**dict(c["function"]), "output": None}} for c in tool_calls
        ]
        run.obj.update(
            status="requires_action",
            required_action={
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": tool_calls},
            },
        )
        run.obj["usage"] = {
            "prompt_tokens": 10,
            "completion_tokens": 5 * len(calls),
            "total_tokens": 10 + 5 * len(calls),
        }
        self._emit(run, "thread.run.requires_action", at)

    def _complete(self, run: RunState, at: float) -> None:
        text = final_text(run.answered)
        message = {
            "id": new_id("msg_"),
            "object": "thread.message",
            "created_at": int(at),
            "thread_id": run.obj["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [],
            "assistant_id": run.obj["assistant_id"],
            "run_id": run.obj["id"],
            "attachments": [],
            "metadata": {},
        }
        step = self._new_step(
            run,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
            at,
        )
        self._emit(run, "thread.run.step.created", at, data=step)
        self._emit(run, "thread.run.step.in_progress", at, data=step)
        self.messages[run.obj["thread_id"]].append(message)
        self._emit(run, "thread.message.created", at, data=message)
        self._emit(run, "thread.message.in_progress", at, data=message)
        self._emit(
            run,
            "thread.message.delta",
            at,
            data={
                "id": message["id"],
                "object": "thread.message.delta",
                "delta": {
                    "content": [
                        {"index": 0, "type": "text", "text": {"value": text, "annotations": []}}
                    ]
                },
            },
        )
        message.update(
            status="completed",
            completed_at=int(at),
            content=[{"type": "text", "text": {"value": text, "annotations": []}}],
        )
        self._emit(run, "thread.message.completed", at, data=message)
        step.update(status="completed", completed_at=int(at))
        self._emit(run, "thread.run.step.completed", at, data=step)
        run.obj.update(
            status="completed",
            completed_at=int(at),
            expires_at=None,
            required_action=None,
            usage={"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
        )
        self._emit(run, "thread.run.completed", at)

    def _expire(self, run: RunState, at: float) -> None:
        for step in self.steps[run.obj["id"]]:
            if step["status"] == "in_progress":
                step.update(status="expired", expired_at=int(at))
                self._emit(run, "thread.run.step.expired", at, data=step)
        run.obj.update(status="expired", required_action=None)
        run.next_at = run.next_step = None
        self._emit(run, "thread.run.expired", at)

    def _step_cancel(self, run: RunState, at: float) -> None:
        for step in self.steps[run.obj["id"]]:
            if step["status"] == "in_progress":
                step.update(status="cancelled", cancelled_at=int(at))
        run.obj.update(status="cancelled", cancelled_at=int(at), required_action=None)
        self._emit(run, "thread.run.cancelled", at)

    def submit(self, run: RunState, outputs: list[dict[str, Any]]) -> int:
        """Accept outputs for a run in requires_action; return the event-log index after."""
        now = self.clock()
        with self.changed:
            self.advance(run, now)
            stats = self.run_stats(run.obj["id"])
            if run.status != "requires_action":
                stats["rejected_submits"] += 1
                raise ApiError(400, f'Runs in status "{run.status}" do not accept tool outputs.')
            required = [
                c["id"] for c in run.obj["required_action"]["submit_tool_outputs"]["tool_calls"]
            ]
            given = [str(o.get("tool_call_id")) for o in outputs]
            if sorted(given) != sorted(required) or len(set(given)) != len(given):
                stats["rejected_submits"] += 1
                raise ApiError(
                    400, f"Expected tool outputs for call_ids {required!r}, got {given!r}"
                )
            by_id = {str(o["tool_call_id"]): str(o.get("output") or "") for o in outputs}
            step = run.tool_step
            assert step is not None
            for call in step["step_details"]["tool_calls"]:
                call["function"]["output"] = by_id[call["id"]]
                run.answered.append((call["function"]["name"], by_id[call["id"]]))
            step.update(status="completed", completed_at=int(now))
            mark = len(run.events)
            self._emit(run, "thread.run.step.completed", now, data=step)
            run.round += 1
            run.obj.update(status="queued", required_action=None)
            self._emit(run, "thread.run.queued", now)
            stats["submits"] += 1
            stats["outputs_accepted_at"].append(now)
            run.next_at, run.next_step = now, "start"
            self.changed.notify_all()
            return mark

    def cancel(self, run: RunState) -> None:
        now = self.clock()
        with self.changed:
            self.advance(run, now)
            if run.status in TERMINAL or run.status == "cancelling":
                raise ApiError(400, f"Cannot cancel run with status '{run.status}'.")
            run.obj["status"] = "cancelling"
            self._emit(run, "thread.run.cancelling", now)
            run.next_at, run.next_step = now + 0.05, "cancel"
            self.changed.notify_all()

    def follow(
        self, run: RunState, start: int, *, first: Sequence[tuple[str, Any]] = ()
    ) -> Iterator[tuple[str, Any]]:
        """Yield the run's events from ``start`` up to the next wait or end, then ``done``."""
        yield from first
        index = start
        while True:
            with self.changed:
                self.advance(run)
                while index >= len(run.events):
                    if self._stop.is_set():
                        return
                    self.changed.wait(timeout=0.5)
                    self.advance(run)
                name, data = run.events[index]
            index += 1
            yield name, data
            if name == "thread.run.requires_action" or (
                name.startswith("thread.run.")
                and name.rsplit(".", 1)[1] in TERMINAL
                and not name.startswith("thread.run.step.")
            ):
                yield "done", "[DONE]"
                return

    def active_run(self, thread_id: str) -> RunState | None:
        for run in self.runs.values():
            if run.obj["thread_id"] == thread_id:
                self.advance(run)
                if run.status not in TERMINAL:
                    return run
        return None

    def _latest_user_text(self, thread_id: str) -> str:
        for message in reversed(self.messages.get(thread_id, [])):
            if message["role"] == "user":
                return "\n".join(
                    c["text"]["value"] for c in message["content"] if c.get("type") == "text"
                )
        return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict):
            text = part.get("text")
            parts.append(text.get("value", "") if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """Message content as the API returns it."""
    return [{"type": "text", "text": {"value": _content_text(content), "annotations": []}}]
