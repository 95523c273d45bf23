"""The operator page: the inbox and a timeline per run, as server-rendered HTML. No IO.

``render`` takes what the store holds (inbox counts, parked records, run timelines) and returns
one self-contained HTML document: inline CSS, a few lines of JavaScript for the replay
buttons, no build step and nothing fetched from elsewhere. ``runhook.events.sources.admin`` serves it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from html import escape

from runhook.events.observability.timeline import RunTimeline
from runhook.events.store.records import Census, Record

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f7f8fa}
h1{font-size:20px;margin:0 0 16px}h2{font-size:16px;margin:24px 0 8px}
.cards{display:flex;gap:12px}.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;
padding:10px 16px;min-width:90px}.card b{display:block;font-size:22px}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e8;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eceff3;text-align:left;white-space:nowrap}
th{background:#eef1f5;font-weight:600}code{font-size:12px}
.axis{position:relative;height:22px;background:#eef1f5;border-radius:3px;min-width:320px}
.bar{position:absolute;top:3px;height:16px;border-radius:3px;min-width:3px}
.event{background:#6b8fd6}.tool{background:#3fa66b}.submit{background:#d08a2e}
.bad{background:#d0453a}.ok{color:#2c7a4b}.err{color:#b3261e}
button{cursor:pointer;border:1px solid #b3261e;background:#fff;color:#b3261e;border-radius:4px;
padding:2px 10px}a{color:#2854a8}.muted{color:#6a7282}
"""

_JS = """
document.querySelectorAll('button.replay').forEach(function (b) {
  b.addEventListener('click', function () {
    b.disabled = true; b.textContent = 'replaying…';
    fetch('replay/' + encodeURIComponent(b.dataset.id), {method: 'POST',
      headers: {'X-Runhook-Replay': '1'}, credentials: 'same-origin'})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        b.textContent = 'replayed: ' + j.outcome;
        document.getElementById('status').textContent = 'event ' + b.dataset.id + ': ' + j.outcome;
        setTimeout(function () { location.reload(); }, 800);
      });
  });
});
"""

_GOOD = {"ok", "done", "submitted", "processed", "accepted", "unhandled"}


def render(
    *,
    inbox: Census,
    parked: Sequence[Record],
    runs: Sequence[RunTimeline],
    selected: RunTimeline | None,
    now: float | None = None,
) -> str:
    """The whole page.

    Args:
        inbox: the inbox's counts.
        parked: parked inbox records (with their payloads).
        runs: recent runs, newest first.
        selected: the run whose timeline is drawn (the newest when None and any exist).
        now: unix seconds, for "ago" columns.
    """
    now = time.time() if now is None else now
    selected = selected or (runs[0] if runs else None)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>runhook</title>",
        f"<style>{_CSS}</style></head><body><h1>runhook operator page</h1>",
        _inbox_cards(inbox, len(parked)),
        "<h2>Parked events</h2>",
        _parked_table(parked),
        "<p id='status' class='muted'></p>",
        "<h2>Recent runs</h2>",
        _runs_table(runs, selected, now),
    ]
    if selected is not None:
        parts += [
            f"<h2>Timeline of <code>{escape(selected.run_id)}</code></h2>",
            _timeline(selected),
        ]
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)


def _inbox_cards(inbox: Census, parked: int) -> str:
    cards = [
        ("due", inbox.due),
        ("in flight", inbox.in_flight),
        ("waiting", inbox.waiting),
        ("parked", parked),
    ]
    body = "".join(
        f"<div class='card' id='inbox-{label.replace(' ', '-')}'><b>{n}</b>{label}</div>"
        for label, n in cards
    )
    note = "<p class='muted'>more than counted</p>" if inbox.truncated else ""
    return f"<h2>Inbox</h2><div class='cards'>{body}</div>{note}"


def _event_of(record: Record) -> tuple[str, str]:
    try:
        data = json.loads(record.payload or b"{}")
        return str(data.get("type", "?")), str((data.get("data") or {}).get("id", ""))
    except ValueError:
        return "(not an envelope)", ""


def _parked_table(parked: Sequence[Record]) -> str:
    if not parked:
        return "<p class='muted' id='no-parked'>No parked events.</p>"
    rows = []
    for record in parked:
        event_id = record.key.partition(":")[2]
        event_type, object_id = _event_of(record)
        rows.append(
            f"<tr class='parked'><td><code>{escape(event_id)}</code></td><td>{escape(event_type)}</td>"
            f"<td><code>{escape(object_id)}</code></td><td>{record.attempts}</td>"
            f"<td class='err'>{escape(record.outcome or '')}</td>"
            f"<td><button class='replay' data-id='{escape(event_id, quote=True)}'>replay</button></td></tr>"
        )
    head = "<tr><th>webhook id</th><th>type</th><th>object</th><th>attempts</th><th>outcome</th><th></th></tr>"
    return f"<table id='parked'>{head}{''.join(rows)}</table>"


def _runs_table(runs: Sequence[RunTimeline], selected: RunTimeline | None, now: float) -> str:
    if not runs:
        return "<p class='muted'>No runs recorded yet.</p>"
    rows = []
    for run in runs:
        kinds = [e["kind"] for e in run.entries]
        submits = [e.get("outcome", "") for e in run.entries if e["kind"] == "submit"]
        mark = (
            " style='background:#eef4ff'"
            if selected is not None and run.run_id == selected.run_id
            else ""
        )
        rows.append(
            f"<tr class='run'{mark}><td><a href='?run={escape(run.run_id, quote=True)}'><code>"
            f"{escape(run.run_id)}</code></a></td><td>{_ago(now - run.end)}</td>"
            f"<td>{(run.end - run.start) * 1000:.0f} ms</td><td>{kinds.count('event')}</td>"
            f"<td>{kinds.count('tool')}</td><td>{escape(', '.join(submits) or '-')}</td></tr>"
        )
    head = "<tr><th>run</th><th>last activity</th><th>span</th><th>events</th><th>tool calls</th><th>submits</th></tr>"
    return f"<table id='runs'>{head}{''.join(rows)}</table>"


def _timeline(run: RunTimeline) -> str:
    start, total = run.start, max(run.end - run.start, 0.001)
    rows = []
    for entry in run.entries:
        offset, seconds = entry["start"] - start, entry["seconds"]
        outcome = str(entry.get("outcome", ""))
        good = outcome in _GOOD
        left, width = 100 * offset / total, max(0.4, 100 * seconds / total)
        css = entry["kind"] if good else "bad"
        rows.append(
            f"<tr class='entry kind-{escape(entry['kind'])}'><td>+{offset * 1000:.0f} ms</td><td>{escape(entry['kind'])}</td>"
            f"<td><code>{escape(str(entry['name']))}</code></td>"
            f"<td class='{'ok' if good else 'err'}'>{escape(outcome)}</td><td>{seconds * 1000:.1f} ms</td>"
            f"<td style='width:45%'><div class='axis'><div class='bar {css}' "
            f"style='left:{min(left, 99.6):.2f}%;width:{width:.2f}%' title='{escape(outcome, quote=True)}'>"
            "</div></div></td></tr>"
        )
    head = (
        "<tr><th>at</th><th>kind</th><th>name</th><th>outcome</th><th>duration</th>"
        f"<th>time axis: 0 – {total * 1000:.0f} ms</th></tr>"
    )
    return f"<table id='timeline'>{head}{''.join(rows)}</table>"


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
