"""Hypothesis strategies for hostile deliveries.

Everything a sender controls outside the identifier fields carries ``CANARY``; the canary has a
character no identifier may hold (``§``), so wherever it shows up in a log line or a reply, a
piece of the body leaked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from random import Random
from typing import Any

from hypothesis import strategies as st

from runhook.events.signing import sign_headers

CANARY = "§CANARY§"
SECRET = "whsec_" + base64.b64encode(b"runhook-fuzz-secret-of-32-bytes!").decode()
SECRET_KEY = base64.b64decode(SECRET.removeprefix("whsec_"))

TYPES = [
    "thread.run.requires_action",
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.expired",
    "thread.run.cancelled",
    "thread.run.step.completed",
    "thread.message.completed",
    "response.completed",
    "response.failed",
    "response.incomplete",
]

PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
tokens = st.from_regex(r"[A-Za-z0-9_.:-]{1,24}", fullmatch=True)
canary_text = st.builds(lambda a, b: f"{a}{CANARY}{b}", st.text(max_size=12), st.text(max_size=12))
huge_ints = st.integers(4301, 6000).map(lambda n: "HUGE" + str(n))  # replaced after dumps

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    canary_text,
    huge_ints,
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(canary_text, inner, max_size=4),
    max_leaves=16,
)
hostile = st.one_of(values, canary_text, st.integers(60, 2000).map(lambda d: "DEEP" + str(d)))


def ident(strategy: st.SearchStrategy[Any] = tokens) -> st.SearchStrategy[Any]:
    """A valid identifier most of the time, a hostile value otherwise."""
    return st.one_of(strategy, strategy, strategy, hostile)


@st.composite
def run_data(draw: st.DrawFn) -> dict[str, Any]:
    """A Run / Response-shaped ``data`` object with hostile fields."""
    data: dict[str, Any] = {"id": draw(ident())}
    optional = {
        "object": st.sampled_from(["thread.run", "response"]) | hostile,
        "status": st.sampled_from(["requires_action", "completed", "failed", "expired"]) | hostile,
        "thread_id": ident(),
        "expires_at": st.integers(0, 2**40) | hostile,
        "required_action": hostile
        | st.fixed_dictionaries(
            {
                "type": st.just("submit_tool_outputs"),
                "submit_tool_outputs": st.fixed_dictionaries(
                    {"tool_calls": st.lists(hostile, max_size=3)}
                ),
            }
        ),
        "last_error": hostile,
        "output": hostile,
        "metadata": hostile,
        "extra": hostile,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            data[name] = draw(strategy)
    return data


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """A JSON envelope of hostile content (possibly not an envelope at all)."""
    obj: dict[str, Any] = {
        "id": draw(ident()),
        "object": draw(st.just("event") | hostile),
        "type": draw(ident(st.sampled_from(TYPES))),
        "created_at": draw(st.integers(0, 2**40) | hostile),
        "data": draw(run_data() | hostile),
    }
    for name in draw(st.sets(st.sampled_from(list(obj)), max_size=2)):
        del obj[name]
    return render(obj)


def render(obj: Any) -> bytes:
    """JSON of ``obj`` with the HUGE/DEEP placeholders expanded into their raw forms."""
    text = json.dumps(obj, ensure_ascii=draw_ascii(obj))
    out: list[str] = []
    for piece in text.split('"'):
        if piece.startswith("HUGE") and piece[4:].isdigit():
            out.append("\x00" + "7" * int(piece[4:]) + "\x00")
        elif piece.startswith("DEEP") and piece[4:].isdigit():
            depth = int(piece[4:])
            out.append("\x00" + "[" * depth + "]" * depth + "\x00")
        else:
            out.append(piece)
    joined = '"'.join(out).replace('"\x00', "").replace('\x00"', "")
    return joined.encode("utf-8", "surrogatepass")


def draw_ascii(obj: Any) -> bool:
    return len(repr(obj)) % 2 == 0  # both escaped and raw UTF-8 forms get exercised


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """``base`` with a few bytes flipped, inserted or cut."""
    body = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 4))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "insert", "cut"]))
        if action == "flip":
            body[at] = draw(st.integers(0, 255))
        elif action == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del body[at : at + draw(st.integers(1, 16))]
    return bytes(body)


bodies = st.one_of(
    envelopes(),
    mutated(envelopes()),
    st.binary(max_size=256).map(lambda b: b + CANARY.encode()),
    st.text(max_size=64).map(lambda t: (t + CANARY).encode("utf-8", "surrogatepass")),
)


@st.composite
def signed(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A body and headers; usually correctly signed, sometimes with broken headers."""
    body = draw(bodies)
    msg_id = draw(tokens.map(lambda t: "msg_" + t) | st.text(alphabet=PRINTABLE, max_size=300))
    headers = sign_headers(SECRET, body, msg_id=msg_id)
    headers["content-type"] = draw(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
    )
    if draw(st.integers(0, 9)) == 0:
        name = draw(st.sampled_from(sorted(headers)))
        headers[name] = draw(st.text(alphabet=PRINTABLE, max_size=40))
    return body, headers


def mutations(body: bytes, rnd: Random, count: int) -> Iterator[bytes]:
    """``count`` cheap byte-level mutations of ``body`` (flips, inserts, cuts, splices)."""
    for _ in range(count):
        out = bytearray(body)
        for _ in range(rnd.randint(1, 4)):
            at = rnd.randint(0, max(0, len(out) - 1))
            action = rnd.randrange(5)
            if action == 0 and out:
                out[at] = rnd.randrange(256)
            elif action == 1:
                out[at:at] = rnd.choice(
                    [b"[", b"{", b'"', b"\\", b"\xff", b"9" * 4400, b"-0", b"\x00"]
                )
            elif action == 2:
                del out[at : at + rnd.randint(1, 32)]
            elif action == 3:
                out[at:at] = out[rnd.randint(0, max(0, len(out) - 1)) :][: rnd.randint(1, 64)]
            else:
                out[at:at] = CANARY.encode()
        yield bytes(out)
