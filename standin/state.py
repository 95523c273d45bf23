"""The stand-in's world: its objects, the runs' clock, the scheduler. Thread-safe.

Runs advance in time (model latency, ``sleep`` directives, expiry) both when someone looks
(every read first calls ``advance``) and by themselves (a scheduler thread wakes at the next
due time), so streams see events as they happen and expiry happens while nobody watches. The
scheduler keeps a heap of the runs' next due times, so a wake costs the runs that are due, not
every run the stand-in ever had (thousands of waiting runs in a benchmark made each wake a
scan of all of them under the lock). Request counting and fault dice have their own small
lock, off the world's.
Every transition appends ``(event_name, object)`` to the run's event log; a stream is a reader
of that log from its segment's start to the next ``requires_action`` or terminal event.
The transitions themselves are ``runhook.standin.run_steps``; ids, ``ApiError`` and
message content are ``runhook.standin.objects``, the knobs ``runhook.standin.config`` (all
re-exported here).

Policy for what the real service leaves uncertain: cancelling a run in ``requires_action`` is
allowed (``cancelling``, then ``cancelled`` shortly after, like ``in_progress``).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from runhook.standin.config import StandinConfig as StandinConfig
from runhook.standin.model import plan
from runhook.standin.objects import TERMINAL as TERMINAL
from runhook.standin.objects import ApiError as ApiError
from runhook.standin.objects import content_blocks as content_blocks
from runhook.standin.objects import content_text
from runhook.standin.objects import new_id as new_id
from runhook.standin.run_steps import RunState as RunState
from runhook.standin.run_steps import RunSteps


class World(RunSteps):
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
        self.thread_runs: dict[str, list[RunState]] = {}
        self._due: list[tuple[float, int, str]] = []  # (when, seq, run id): the scheduler's heap
        self._seq = itertools.count()
        self.counting = threading.Lock()  # request counts and fault dice, off the world's lock
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
        with self.lock, self.counting:
            self.stats = {"requests": {}, "total": 0, "runs": {}, "responses": {}}

    def count(self, route: str) -> None:
        with self.counting:
            self.stats["requests"][route] = self.stats["requests"].get(route, 0) + 1
            self.stats["total"] += 1

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
                while self._due and self._due[0][0] <= now:
                    when, _, rid = heapq.heappop(self._due)
                    run = self.runs.get(rid)
                    if run is None:
                        continue
                    if run.planned == when:
                        run.planned = None  # this entry is used up: advance plans the next
                    self.advance(run, now)
                due: list[float] = [self._due[0][0]] if self._due else []
                for timer in list(self.timers):
                    nxt = timer(now)
                    if nxt is not None:
                        due.append(nxt)
                wait = min(due) - now if due else 1.0
                self.changed.wait(timeout=min(1.0, max(0.001, wait)))

    def _plan(self, run: RunState) -> None:
        """Put the run's next due time (transition or expiry) on the scheduler's heap."""
        if run.status in TERMINAL:
            return
        expires = run.obj.get("expires_at")
        when = float(expires) if expires is not None else float("inf")
        if run.next_at is not None:
            when = min(when, run.next_at)
        if when == float("inf") or (run.planned is not None and run.planned <= when):
            return  # an entry at or before it is on the heap; its wake plans again
        run.planned = when
        heapq.heappush(self._due, (when, next(self._seq), run.obj["id"]))

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
                text = content_text(extra.get("content"))
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
            self.thread_runs.setdefault(thread_id, []).append(run)
            self.steps[obj["id"]] = []
            self._emit(run, "thread.run.created", now, status=False)
            self._emit(run, "thread.run.queued", now)
            run.next_at, run.next_step = now, "start"
            self._plan(run)
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
            self._plan(run)
            if len(run.events) != seen:
                # Only a transition wakes the others: waking them for nothing made every
                # waiting reader and the scheduler wake each other in a loop (a busy core).
                self.changed.notify_all()

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
            self._plan(run)
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
            self._plan(run)
            self.changed.notify_all()

    def follow(
        self, run: RunState, start: int, *, first: Sequence[tuple[str, Any]] = ()
    ) -> Iterator[list[tuple[str, Any]]]:
        """Yield the run's events from ``start`` up to the next wait or end, then ``done``, in
        bursts: each list is every event there was when the stream looked (after ``first``).

        A run's transitions often emit several events at once (with an instant model, eight
        from ``thread.run.created`` to ``requires_action``); a stream writes each burst in one
        write, as a buffered server does, instead of one write per event.
        """
        burst = list(first)
        index = start
        while True:
            with self.changed:
                self.advance(run)
                while index >= len(run.events):
                    if self._stop.is_set():
                        return
                    self.changed.wait(timeout=0.5)
                    self.advance(run)
                ready = run.events[index:]
            for name, data in ready:
                index += 1
                burst.append((name, data))
                if name == "thread.run.requires_action" or (
                    name.startswith("thread.run.")
                    and name.rsplit(".", 1)[1] in TERMINAL
                    and not name.startswith("thread.run.step.")
                ):
                    burst.append(("done", "[DONE]"))
                    yield burst
                    return
            yield burst
            burst = []

    def active_run(self, thread_id: str) -> RunState | None:
        for run in self.thread_runs.get(thread_id, ()):
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
