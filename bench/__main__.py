"""``python -m bench [--quick] [--only B1,B2,B3,B4] [--waiting N,M] [--b3-stores sqlite,redis]
[--continuation]``: run, print, save JSON (``bench/results/``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.common import table
from bench.procs import machine
from bench.scenarios import BASELINE


def _load(batches: list[dict[str, Any]]) -> str:
    """``1.2→1.5 (busy 80%)``: load average before → after, and the CPUs' busy share."""
    parts = [
        f"{b['load_before'][0]:.1f}→{b['load_after'][0]:.1f} ({100 * b['machine_busy']:.0f}%)"
        for b in batches
    ]
    return ", ".join(parts)


def targets(results: dict[str, Any]) -> list[list[Any]]:
    """Issue 12's "done when" lines: what was measured against what is asked."""
    rows: list[list[Any]] = []

    def add(what: str, value: float, goal: str, ok: bool) -> None:
        rows.append([what, value, goal, "yes" if ok else "NO"])

    b1 = results.get("B1", {})
    slow, fast = b1.get("latency_200ms"), b1.get("latency_0ms")
    webhooks = [n for n in (slow or fast or {}) if n.startswith("stream -> webhook")]
    if slow:
        base = slow[BASELINE]
        for name in webhooks:
            p = slow[name]
            ratio = base["reaction"]["median"] / max(p["reaction"]["median"], 1e-9)
            add(f"200 ms, {name}: × polling p50", ratio, ">= 20", ratio >= 20)
            ratio = base["reaction"]["p95"] / max(p["reaction"]["p95"], 1e-9)
            add(f"200 ms, {name}: × polling p95", ratio, ">= 5", ratio >= 5)
    if fast:
        base = fast[BASELINE]["reaction"]["median"]
        for name in [n for n in fast if n.startswith("stream")]:
            ratio = base / max(fast[name]["reaction"]["median"], 1e-9)
            add(f"0 ms, {name}: × polling p50", ratio, ">= 1", ratio >= 1)
        if "relay poller" in fast:
            ratio = fast["relay poller"]["reaction"]["median"] / max(base, 1e-9)
            add("0 ms, relay poller: p50 / polling p50", ratio, "<= 1.2", ratio <= 1.2)
    for latency, paths in ((k, v) for k, v in b1.items() if k.startswith("latency_")):
        for name in webhooks:
            value = paths[name]["cpu_ms_per_event"]
            add(f"{latency[8:-2]} ms, {name}: server CPU ms/event", value, "<= 1", value <= 1)
    b2 = results.get("B2", {})
    if "bare Flask 204" in b2:
        bare = b2["bare Flask 204"]["rps"]
        for name in [n for n in b2 if n.startswith("runhook")]:
            ratio = b2[name]["rps"] / bare
            add(f"ingest, {name}: × bare Flask", ratio, ">= 0.8", ratio >= 0.8)
    for b in results.get("B3", []):
        note = f", {b.get('store', 'SQLite')}" + ("" if b["runs"] >= 2000 else " (asked at 2,000)")
        value = b["ratio_to_bound"]
        add(f"{b['runs']} waiting runs: wall / bound{note}", value, "<= 1.5", value <= 1.5)
        value = b["rss_kib_per_run"]
        add(f"{b['runs']} waiting runs: KiB per run{note}", value, "<= 20", value <= 20)
    return rows


def render(results: dict[str, Any]) -> str:
    out = []
    m = results["machine"]
    out.append(
        f"machine: {m['nproc']} CPUs, load at start {m['loadavg'][0]:.2f} "
        f"{m['loadavg'][1]:.2f} {m['loadavg'][2]:.2f} (1/5/15 min)"
    )
    if "B1" in results:
        b1 = results["B1"]
        latencies = [k for k in b1 if k.startswith("latency_")]
        cont = "on" if b1.get("continuation") else "off"
        for latency in latencies:
            paths = b1[latency]
            base = paths[BASELINE]
            rows = []
            for name, p in paths.items():
                rows.append(
                    [
                        name + (" (a worker restarted!)" if p["workers_restarted"] else ""),
                        p["reaction"]["median"] * 1000,
                        p["reaction"]["p95"] * 1000,
                        base["reaction"]["median"] / max(p["reaction"]["median"], 1e-9),
                        base["reaction"]["p95"] / max(p["reaction"]["p95"], 1e-9),
                        p["total"]["median"],
                        p["requests"]["median"],
                        p["cpu_ms_per_run"],
                        p["cpu_ms_per_event"],
                        p["where"],
                        p["events_per_run"],
                        p["standin_cpu_ms_per_run"],
                        _load(p["load"]),
                    ]
                )
            out.append(
                table(
                    f"B1 model latency {latency.split('_')[1]}: {b1['concurrency']} runs in "
                    f"flight, one instant tool each, {b1['runs_per_batch']} runs × "
                    f"{b1['reps']} batches per path (continuation {cont})",
                    [
                        "path",
                        "reaction ms p50",
                        "p95",
                        "× p50",
                        "× p95",
                        "run s p50",
                        "API req/run",
                        "CPU ms/run",
                        "CPU ms/event",
                        "CPU of",
                        "events/run",
                        "stand-in CPU ms/run",
                        "load 1m before→after (busy)",
                    ],
                    rows,
                )
            )
        if len(latencies) > 1:
            rows = []
            for name in b1[latencies[0]]:
                row: list[Any] = [name]
                for latency in latencies:
                    p, base = b1[latency].get(name), b1[latency][BASELINE]
                    if p is None:
                        row += ["-", "-", "-"]
                        continue
                    row += [
                        p["reaction"]["median"] * 1000,
                        base["reaction"]["median"] / max(p["reaction"]["median"], 1e-9),
                        base["reaction"]["p95"] / max(p["reaction"]["p95"], 1e-9),
                    ]
                rows.append(row)
            header = ["path"]
            for latency in latencies:
                ms = latency.split("_")[1]
                header += [f"{ms}: p50 ms", "× polling p50", "× p95"]
            out.append(
                table("B1 side by side (× = how many times faster than polling)", header, rows)
            )
        if "long_run" in b1:
            lr = b1["long_run"]
            out.append(
                table(
                    "B1 one long run (API requests)",
                    ["path", "model s", "requests"],
                    [[k, v["model_seconds"], v["requests"]] for k, v in lr.items()],
                )
            )
    if "B2" in results:
        b2 = results["B2"]
        bare = b2["bare Flask 204"]["rps"]
        out.append(
            table(
                "B2 ingest, gunicorn 2 workers × 8 threads, signed distinct "
                f"{b2['bare Flask 204']['body_bytes']} B events, load from its own process",
                [
                    "endpoint",
                    "events/s",
                    "p50 ms",
                    "p99 ms",
                    "× bare",
                    "server CPU ms/event",
                    "load",
                ],
                [
                    [
                        k,
                        v["rps"],
                        v["p50_ms"],
                        v["p99_ms"],
                        v["rps"] / bare,
                        v["cpu_ms_per_event"],
                        _load(v["load"]),
                    ]
                    for k, v in b2.items()
                ],
            )
        )
    if "B3" in results:
        out.append(
            table(
                "B3 scale: runs waiting at once, one 200 ms tool each, runhook serve "
                "(2 workers x 32 handler threads)",
                [
                    "waiting runs",
                    "store",
                    "submitted",
                    "handler threads",
                    "wall s",
                    "bound s",
                    "wall / bound",
                    "RSS KiB/run",
                    "server CPU ms/run",
                    "stand-in CPU ms/run",
                    "loader CPU ms/run",
                    "posted s",
                    "load",
                ],
                [
                    [
                        b["runs"],
                        b.get("store", "SQLite"),
                        b["submitted"],
                        b["handler_threads"],
                        b["wall_s"],
                        b["bound_s"],
                        b["ratio_to_bound"],
                        b["rss_kib_per_run"],
                        b["server_cpu_ms_per_run"],
                        b.get("standin_cpu_ms_per_run", float("nan")),
                        b.get("loader_cpu_ms_per_run", float("nan")),
                        b["posted_s"],
                        _load([b]),
                    ]
                    for b in results["B3"]
                ],
            )
        )
    if "B4" in results:
        b = results["B4"]
        one = b["1 call of 200 ms"]["median"]
        out.append(
            table(
                "B4 parallel calls (requires_action -> outputs accepted)",
                ["wait", "s p50", "× one call"],
                [[k, v["median"], v["median"] / one] for k, v in b.items()],
            )
        )
    rows = targets(results)
    if rows:
        out.append(table("Issue 12 targets", ["measured", "value", "asked", "met"], rows))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="runhook benchmarks (side by side, one run)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (about 2 minutes)")
    parser.add_argument("--only", default="B1,B2,B3,B4", help="comma-separated scenarios")
    parser.add_argument(
        "--waiting",
        help="B3: runs waiting at once, comma-separated (default 2000, quick 200; e.g. 2000,10000)",
    )
    parser.add_argument(
        "--b3-stores",
        default="sqlite,redis",
        help="B3: the server's stores, comma-separated (Redis only where redis-server exists)",
    )
    parser.add_argument(
        "--continuation",
        action="store_true",
        help="B1: the server and the in-process relay submit through a relayed stream",
    )
    parser.add_argument(
        "--out", help="JSON file (default bench/results/latest.json, quick: quick.json)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.out is None:
        name = "quick.json" if args.quick else "latest.json"
        args.out = str(Path(__file__).parent / "results" / name)
    chosen = [s.strip().upper() for s in args.only.split(",")]
    waiting = [int(n) for n in args.waiting.split(",")] if args.waiting else None
    stores = [x.strip().lower() for x in args.b3_stores.split(",")]
    results: dict[str, Any] = {
        "machine": {
            **machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": args.quick,
    }
    started = time.time()
    runners = {
        "B1": lambda q: scenarios.b1(q, args.continuation),
        "B2": scenarios.b2,
        "B3": lambda q: scenarios.b3(q, waiting, stores),
        "B4": scenarios.b4,
    }
    for name in chosen:
        t = time.time()
        results[name] = runners[name](args.quick)
        print(f"{name} done in {time.time() - t:.0f} s", flush=True)
        Path(args.out).write_text(json.dumps(results, indent=2))  # partial results survive
    results["elapsed_s"] = time.time() - started
    print(render(results))
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"\nwritten {args.out} ({results['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
