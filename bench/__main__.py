"""``python -m bench [--quick] [--only B1,B2,B3,B4] [--waiting N]``: run, print, save JSON."""

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


def render(results: dict[str, Any]) -> str:
    out = []
    if "B1" in results:
        for latency, paths in results["B1"].items():
            if latency == "long_run":
                continue
            base = paths["polling loop (SDK defaults)"]
            rows = []
            for name, m in paths.items():
                rows.append(
                    [
                        name,
                        m["reaction"]["median"] * 1000,
                        m["reaction"]["p95"] * 1000,
                        m["total"]["median"],
                        m["requests"]["median"],
                        base["reaction"]["median"] / max(m["reaction"]["median"], 1e-9),
                        base["requests"]["median"] / max(m["requests"]["median"], 1e-9),
                    ]
                )
            out.append(
                table(
                    f"B1 reaction and API cost, model latency {latency.split('_')[1]}",
                    [
                        "path",
                        "reaction ms p50",
                        "p95",
                        "run s p50",
                        "API req/run",
                        "reaction ×faster",
                        "requests ×fewer",
                    ],
                    rows,
                )
            )
        lr = results["B1"]["long_run"]
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
                "B2 ingest, gunicorn 2 workers (signed distinct events)",
                ["endpoint", "events/s", "p50 ms", "p99 ms", "of bare"],
                [[k, v["rps"], v["p50_ms"], v["p99_ms"], v["rps"] / bare] for k, v in b2.items()],
            )
        )
    if "B3" in results:
        b = results["B3"]
        out.append(
            table(
                "B3 scale",
                [
                    "waiting runs",
                    "threads",
                    "wall s",
                    "bound s",
                    "wall / bound",
                    "peak RSS KiB/run",
                ],
                [
                    [
                        b["runs"],
                        b["handler_threads"],
                        b["wall_s"],
                        b["bound_s"],
                        b["ratio_to_bound"],
                        b["peak_rss_kib_per_run"],
                    ]
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
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="runhook benchmarks (side by side, one run)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (about 2 minutes)")
    parser.add_argument("--only", default="B1,B2,B3,B4", help="comma-separated scenarios")
    parser.add_argument(
        "--waiting", type=int, help="B3: runs waiting at once (default 2000, quick 200)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    chosen = [s.strip().upper() for s in args.only.split(",")]
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": args.quick,
    }
    started = time.time()
    runners = {
        "B1": scenarios.b1,
        "B2": scenarios.b2,
        "B3": lambda q: scenarios.b3(q, args.waiting),
        "B4": scenarios.b4,
    }
    for name in chosen:
        t = time.time()
        results[name] = runners[name](args.quick)
        print(f"{name} done in {time.time() - t:.0f} s", flush=True)
    results["elapsed_s"] = time.time() - started
    print(render(results))
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"\nwritten {args.out} ({results['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
