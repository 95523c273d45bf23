"""Load generator for B2, run in its own process: ``python -m bench.load URL SECRET N CONC``.

Sends N distinct signed events of about 2.5 KB (the size of a ``requires_action`` run object) from CONC threads (bounded in count and time) and prints JSON
``{"rps", "p50_ms", "p99_ms", "statuses"}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

import httpx2

from runhook.events.envelope import Event
from runhook.events.signing import sign_headers


def main() -> None:
    url, secret, n, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    pad = "x" * 2400
    bodies = [
        Event.create("bench.ingest", {"id": f"obj_{i}", "n": i, "pad": pad}) for i in range(n)
    ]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    index = iter(range(n))
    deadline = time.monotonic() + 120

    def worker() -> None:
        with httpx2.Client(timeout=30, trust_env=False) as client:
            for i in index:
                if time.monotonic() > deadline:
                    return
                event = bodies[i]
                headers = sign_headers(secret, event.body, msg_id=event.id)
                start = time.perf_counter()
                status = client.post(url, content=event.body, headers=headers).status_code
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    print(
        json.dumps(
            {
                "rps": len(latencies) / wall,
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
                "statuses": dict(statuses),
                "accepted": sum(v for k, v in statuses.items() if 200 <= k < 300),
                "body_bytes": len(bodies[0].body),
            }
        )
    )


if __name__ == "__main__":
    main()
