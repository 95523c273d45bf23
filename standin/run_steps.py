"""The Assistants run state machine's transitions: start, think, ask for tools, complete,
expire, cancel; each appends ``(event_name, object's JSON text)`` to the run's event log.

``World`` (``runhook.standin.state``) decides when a transition is due (``advance``) and
takes the lock; these methods only apply one transition at time ``at``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from runhook.standin.config import StandinConfig
from runhook.standin.model import Plan, final_text
from runhook.standin.objects import TERMINAL, new_id


@dataclass
class RunState:
    """A run plus what the state machine needs."""

    obj: dict[str, Any]
    plan: Plan
    round: int = 0
    answered: list[tuple[str, str]] = field(default_factory=list)
    #: (event name, its data as compact JSON text, frozen at the moment it happened)
    events: list[tuple[str, str]] = field(default_factory=list)
    next_at: float | None = None
    next_step: str | None = None
    tool_step: dict[str, Any] | None = None
    planned: float | None = None  # the earliest due time on the world's scheduler heap
    #: set by the transition to a terminal status (``POST /_standin/wait`` blocks on it)
    ended: threading.Event = field(default_factory=threading.Event)

    @property
    def status(self) -> str:
        return str(self.obj["status"])


class RunSteps:
    """The transitions of ``World``'s runs (a mixin: ``World`` holds the state)."""

    config: StandinConfig
    stats: dict[str, Any]
    messages: dict[str, list[dict[str, Any]]]
    steps: dict[str, list[dict[str, Any]]]

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

    def _emit(
        self,
        run: RunState,
        name: str,
        at: float,
        *,
        status: bool = True,
        data: dict[str, Any] | None = None,
    ) -> None:
        # the JSON text, not a copy: the stream writes it as is (one encode, no decode)
        payload = json.dumps(data if data is not None else run.obj, separators=(",", ":"))
        run.events.append((name, payload))
        if status and data is None:
            stats = self.run_stats(run.obj["id"])
            stats["transitions"].append([run.obj["status"], at])
            if run.obj["status"] == "requires_action":
                stats["requires_action_at"].append(at)
            elif run.obj["status"] in TERMINAL:
                run.ended.set()

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
