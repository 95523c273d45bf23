"""POST /watch and DELETE /watch/<run_id>: the relay poller's watch list over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from runhook.app import App
from runhook.events import keys
from runhook.events.sources.poller import LEASE_S, watch
from runhook.events.sources.watch_api import watch_blueprint
from runhook.events.sources.webhook import create_app
from runhook.events.store import open_store
from runhook.events.store.base import Store
from runhook.events.store.memory import MemoryStore
from tests.plugins.events import Recorder
from tests.plugins.redis import RedisServer

TOKEN = "poll-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RUN = {"run_id": "run_1", "thread_id": "thread_1"}

Build = Callable[..., tuple[App, Recorder]]


def client_for(make_app: Build, store: Store, **settings: Any) -> FlaskClient:
    app, _ = make_app(**settings)
    blueprint = watch_blueprint(store, app.settings)
    return create_app(app.pipeline(), blueprints=[blueprint]).test_client()


class TestAccess:
    def test_disabled_without_a_token(self, make_app: Build) -> None:
        """With no RUNHOOK_POLL_TOKEN the endpoint does not exist for callers (404)."""
        reply = client_for(make_app, MemoryStore()).post("/watch", json=RUN, headers=AUTH)
        assert reply.status_code == 404
        assert reply.get_json()["error"]["message"] == "set RUNHOOK_POLL_TOKEN to enable /watch"

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X": TOKEN}])
    def test_wrong_or_missing_token_is_401(self, make_app: Build, headers: Any) -> None:
        """A missing or wrong bearer token is refused, and nothing is watched."""
        store = MemoryStore()
        client = client_for(make_app, store, poll_token=TOKEN)
        reply = client.post("/watch", json=RUN, headers=headers)
        assert (reply.status_code, reply.get_json()["error"]["code"]) == (401, "unauthorized")
        assert client.delete("/watch/run_1", headers=headers).status_code == 401
        assert store.due(keys.WATCH_QUEUE) == []

    @pytest.mark.parametrize(
        "body", [{"run_id": "run_1"}, {"run_id": 1, "thread_id": "t"}, {}, "not json"]
    )
    def test_malformed_body_is_400(self, make_app: Build, body: Any) -> None:
        """Both ids, as non-empty strings, are required."""
        client = client_for(make_app, MemoryStore(), poll_token=TOKEN)
        if isinstance(body, str):
            reply = client.post("/watch", data=body, headers=AUTH)
        else:
            reply = client.post("/watch", json=body, headers=AUTH)
        assert (reply.status_code, reply.get_json()["error"]["code"]) == (400, "malformed")


class TestWatchList:
    def test_watch_then_again(self, make_app: Build) -> None:
        """The first POST puts the run on the watch list (due now); a second says so."""
        store = MemoryStore()
        client = client_for(make_app, store, poll_token=TOKEN)
        first = client.post("/watch", json=RUN, headers=AUTH)
        assert (first.status_code, first.get_json()["status"]) == (202, "watching")
        again = client.post("/watch", json=RUN, headers=AUTH)
        assert (again.status_code, again.get_json()["status"]) == (202, "already_watched")
        assert store.due(keys.WATCH_QUEUE) == [keys.watch_key("run_1")]

    def test_unwatch_then_watch_again(self, make_app: Build) -> None:
        """DELETE takes the run off the list; it can be watched again afterwards."""
        store = MemoryStore()
        client = client_for(make_app, store, poll_token=TOKEN)
        client.post("/watch", json=RUN, headers=AUTH)
        gone = client.delete("/watch/run_1", headers=AUTH)
        assert (gone.status_code, gone.get_json()["status"]) == (200, "unwatched")
        assert store.due(keys.WATCH_QUEUE) == [] and store.get(keys.watch_key("run_1")) is None
        back = client.post("/watch", json=RUN, headers=AUTH)
        assert back.get_json()["status"] == "watching"
        assert client.delete("/watch/run_never", headers=AUTH).status_code == 200

    def test_unwatch_while_a_poller_holds_it_is_503_busy(self, make_app: Build) -> None:
        """While a poller holds the run's lease, DELETE answers 503 busy with Retry-After and
        the run stays watched, rather than claiming a removal that the poller would undo."""
        store = MemoryStore()
        client = client_for(make_app, store, poll_token=TOKEN)
        watch(store, "run_1", "thread_1")
        held = store.claim(keys.watch_key("run_1"), LEASE_S)
        assert held is not None
        reply = client.delete("/watch/run_1", headers=AUTH)
        assert (reply.status_code, reply.get_json()["error"]["code"]) == (503, "busy")
        assert reply.headers["Retry-After"] == "1"
        assert store.get(keys.watch_key("run_1")) is not None

    @pytest.mark.redis
    def test_store_outage_is_503(self, make_app: Build, own_redis_server: RedisServer) -> None:
        """With the store down both verbs answer 503 store_unavailable in JSON."""
        store = open_store(own_redis_server.url)
        client = client_for(make_app, store, poll_token=TOKEN)
        own_redis_server.stop()
        try:
            for reply in (
                client.post("/watch", json=RUN, headers=AUTH),
                client.delete("/watch/run_1", headers=AUTH),
            ):
                assert (reply.status_code, reply.get_json()["error"]["code"]) == (
                    503,
                    "store_unavailable",
                )
        finally:
            store.close()
