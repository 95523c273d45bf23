"""The scale benchmark's client, in its own process: many runs waiting at once.

``python -m bench.waiting STANDIN_URL SERVER_URL N [WARM]``: creates N + WARM runs that each
ask for one 200 ms tool and waits until all are in ``requires_action`` (setup), then signs
every run's ``thread.run.requires_action`` event. It POSTs the first WARM events and waits (in
the stand-in) until they are answered, so every layer of both workers has run a real wait (the
SDK's resources imported, the tool pool's threads made) before anything is measured. It prints
``ready``, waits for a line on stdin, then POSTs the other N runs' events to the server's
``/events`` from 16 threads and prints ``{"sent_at": unix_s, "posted_s": s, "statuses":
{...}, "runs": [...], "cpu_s": s}`` (``cpu_s``: this process's CPU while posting).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2

from bench import apps
from bench.common import SECRET
from runhook.events.envelope import Event
from runhook.events.signing import sign_headers


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    standin, server, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warm = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    from openai import OpenAI

    client = OpenAI(base_url=f"{standin}/v1", api_key="sk-standin", max_retries=5)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=apps.app.tools.definitions(),  # type: ignore[arg-type]
    ).id

    def start(_: int) -> Any:
        t = client.beta.threads.create(
            messages=[{"role": "user", "content": 'call nap {"ms": 200}'}]
        ).id
        return client.beta.threads.runs.create_and_poll(
            thread_id=t, assistant_id=assistant, poll_interval_ms=20
        )

    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(start, range(n + warm)))
    events = [
        Event.create("thread.run.requires_action", run.model_dump(mode="json")) for run in waits
    ]
    with httpx2.Client(timeout=60, trust_env=False) as http:
        url = f"{server}/events"
        # signed ahead, before "ready": OpenAI's sender is not on this machine, so its signing
        # is not the measured load (a signature stays valid for 5 minutes)
        signed = [(e.body, sign_headers(SECRET, e.body, msg_id=e.id)) for e in events]

        def post(delivery: tuple[bytes, dict[str, str]]) -> int:
            body, headers = delivery
            return http.post(url, content=body, headers=headers).status_code

        if warm:
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(post, signed[:warm]))
            body = {"runs": [run.id for run in waits[:warm]], "timeout": 120}
            http.post(f"{standin}/_standin/wait", json=body, timeout=150)
        print("ready", flush=True)
        sys.stdin.readline()
        statuses: Counter[int] = Counter()
        cpu0 = _cpu()
        sent_at = time.time()
        began = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            for status in pool.map(post, signed[warm:]):
                statuses[status] += 1
    result = {
        "sent_at": sent_at,
        "posted_s": time.perf_counter() - began,
        "statuses": dict(statuses),
        "runs": [run.id for run in waits[warm:]],
        "cpu_s": _cpu() - cpu0,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
