"""The relay poller watches background responses: it relays their events, heals a lost
completion, follows the chain's follow-ups and shares the watch list like runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runhook.events import keys
from runhook.events.envelope import Event
from runhook.events.sources import Ack
from runhook.events.sources.poller import Poller
from runhook.events.sources.relay import PipelineRelay
from runhook.events.sources.watch_api import watch_blueprint
from runhook.events.sources.webhook import create_app
from runhook.events.store.records import Status
from runhook.lifecycle import RunOutcome
from tests.handlers.test_requires_action import lookup_tools
from tests.plugins.handlers import Rig

Build = Callable[..., Rig]
TWO_ROUNDS = 'call lookup {"q": "a"}\ncall lookup {"q": "b"}'
TOKEN = "poll-token-0123456789"


class LosingRelay:
    """Loses the first ``n`` completions that carry function calls, as a flaky network."""

    def __init__(self, inner: PipelineRelay, n: int = 1) -> None:
        self.inner, self.n, self.lost = inner, n, 0
        self.types: list[str] = []

    def emit(self, event: Event) -> Ack:
        self.types.append(event.type)
        calls = [i for i in event.data.get("output") or [] if i.get("type") == "function_call"]
        if event.type == "response.completed" and calls and self.lost < self.n:
            self.lost += 1
            return Ack(202, {"status": "accepted"})
        return self.inner.emit(event)


def polled_rig(make_rig: Build) -> tuple[Rig, list[RunOutcome]]:
    rig = make_rig(poll_interval_s=0.03, poll_max_interval_s=0.2)
    lookup_tools(rig)
    outcomes: list[RunOutcome] = []
    rig.app.on_outcome(lambda outcome, ctx: outcomes.append(outcome))
    return rig, outcomes


def background(rig: Rig, text: str = TWO_ROUNDS) -> str:
    return rig.client.responses.create(
        model="gpt-4o",
        background=True,
        parallel_tool_calls=False,
        tools=rig.app.tools.definitions("responses"),  # type: ignore[arg-type]
        input=text,
    ).id


def poller_for(rig: Rig, relay: Any) -> Poller:
    return Poller(rig.app.store, rig.client, relay, rig.app.settings)


def test_the_poller_drives_a_two_round_chain_to_its_end(make_rig: Build) -> None:
    """Watching the first response is enough: the follow-ups are watched as they are
    created, each tool runs once, and the chain's outcome is recorded once."""
    rig, outcomes = polled_rig(make_rig)
    relay = LosingRelay(PipelineRelay(rig.app.pipeline(), rig.secret), n=0)
    first = background(rig)
    poller = poller_for(rig, relay)
    assert poller.watch_response(first) is True
    assert poller.watch_response(first) is False
    poller.run(burst=True)
    assert rig.calls.names() == ["lookup", "lookup"]
    assert [(o.run_id, o.status, o.message) for o in outcomes] == [
        (first, "completed", "lookup: found a\nlookup: found b")
    ]
    assert relay.types.count("response.completed") >= 3  # two waits and the final answer


def test_a_lost_completion_is_re_emitted_until_answered(make_rig: Build) -> None:
    """The first completion with calls is lost; the poller emits it again next interval and
    the wait is answered once."""
    rig, outcomes = polled_rig(make_rig)
    relay = LosingRelay(PipelineRelay(rig.app.pipeline(), rig.secret), n=1)
    first = background(rig, 'call lookup {"q": "z"}')
    poller = poller_for(rig, relay)
    poller.watch_response(first)
    poller.run(burst=True)
    assert relay.lost == 1
    assert rig.calls.names() == ["lookup"]
    assert [o.message for o in outcomes] == ["lookup: found z"]
    assert rig.server.stats()["responses"][first]["follow_ups"] == 1


def test_a_restarted_poller_resumes_the_watch_list(make_rig: Build) -> None:
    """The watch list lives in the store: a new poller finishes what the old one started,
    and an entry leased by one poller is not polled by the other."""
    rig, outcomes = polled_rig(make_rig)
    relay = PipelineRelay(rig.app.pipeline(), rig.secret)
    first = background(rig, 'call lookup {"q": "r"}')
    old = poller_for(rig, relay)
    old.watch_response(first)
    held = rig.app.store.claim(keys.watch_key(first), 30.0)
    assert held is not None
    assert poller_for(rig, relay).poll_once() == 0  # leased: not polled twice
    rig.app.store.release(held)
    new = poller_for(rig, relay)
    new.known.update(old.known)
    new.run(burst=True)
    assert [o.status for o in outcomes] == ["completed"]
    record = rig.app.store.get(keys.watch_key(first))
    assert record is not None and record.status is Status.COMPLETED


def test_post_watch_takes_a_response_id(make_rig: Build) -> None:
    """POST /watch {"response_id"} fills the same watch list; the poller then answers it."""
    rig, outcomes = polled_rig(make_rig)
    rig.app.configure(poll_token=TOKEN)
    first = background(rig, 'call lookup {"q": "w"}')
    http = create_app(
        rig.app.pipeline(), blueprints=[watch_blueprint(rig.app.store, rig.app.settings)]
    ).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    reply = http.post("/watch", json={"response_id": first}, headers=auth)
    again = http.post("/watch", json={"response_id": first}, headers=auth)
    bad = http.post("/watch", json={"response_id": 7}, headers=auth)
    assert (reply.status_code, reply.get_json()) == (
        202,
        {"status": "watching", "response_id": first},
    )
    assert again.get_json()["status"] == "already_watched"
    assert bad.status_code == 400
    poller = poller_for(rig, PipelineRelay(rig.app.pipeline(), rig.secret))
    poller.known.add(keys.watch_key(first))
    poller.run(burst=True)
    assert [o.message for o in outcomes] == ["lookup: found w"]
