"""Tool schemas from hints and docstrings; the runner's bounds and error outputs."""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import dataclass
from typing import Literal

import pytest

from runhook.backends.base import ToolCall, ToolOutput
from runhook.events.errors import SetupError
from runhook.tools.pool import ToolPool
from runhook.tools.registry import ToolRegistry
from runhook.tools.runner import fit_limits, run_calls


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclass
class Place:
    city: str
    country: str | None = None


def weather(
    place: Place, unit: Unit, days: int = 1, detail: Literal["short", "long"] = "short"
) -> str:
    """Weather forecast.

    Longer text that is not the summary.

    Args:
        place: where.
        unit: temperature unit.
        days: how many days,
            at most 7.
        detail: how much to say.
    """
    return f"{place.city}/{unit.value}/{days}/{detail}"


class TestSchema:
    def test_strict_schema_from_hints_and_docstring(self) -> None:
        """Every property is required and described; defaults become nullable; objects are closed."""
        registry = ToolRegistry()
        params = registry.register(weather).signature.parameters
        assert params["required"] == ["place", "unit", "days", "detail"]
        assert params["additionalProperties"] is False
        assert params["properties"]["days"] == {
            "type": ["integer", "null"],
            "description": "how many days, at most 7.",
        }
        assert params["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
        assert params["properties"]["place"]["properties"]["country"]["type"] == ["string", "null"]
        assert registry.definitions()[0]["function"]["description"] == "Weather forecast."
        assert registry.definitions("responses")[0]["name"] == "weather"

    def test_missing_hint_is_refused_at_registration(self) -> None:
        """A parameter without a type hint raises SetupError when decorated."""

        def bad(x) -> str:  # type: ignore[no-untyped-def]
            return ""

        with pytest.raises(SetupError, match="has no type hint"):
            ToolRegistry().register(bad)

    def test_unsupported_type_and_duplicate_name(self) -> None:
        """A free-form dict is refused in strict mode; a second tool with the same name too."""

        def free(x: dict[str, int]) -> str:
            return ""

        registry = ToolRegistry()
        with pytest.raises(SetupError, match="not supported in a strict tool schema"):
            registry.register(free)
        registry.register(weather)
        with pytest.raises(SetupError, match="already registered"):
            registry.register(weather)


def calls(*items: tuple[str, str]) -> list[ToolCall]:
    return [ToolCall(id=f"call_{i}", name=n, arguments=a) for i, (n, a) in enumerate(items)]


class TestRunner:
    def test_arguments_are_converted(self) -> None:
        """JSON arguments become the hinted Python types; null means the default."""
        registry = ToolRegistry()
        registry.register(weather)
        args = json.dumps(
            {
                "place": {"city": "Oslo", "country": None},
                "unit": "celsius",
                "days": None,
                "detail": "long",
            }
        )
        (out,) = run_calls(calls(("weather", args)), registry, deadline=None)
        assert out.output == "Oslo/celsius/1/long"

    def test_errors_name_the_argument(self) -> None:
        """A wrong type names the argument path and what was expected."""
        registry = ToolRegistry()
        registry.register(weather)
        args = json.dumps({"place": {"city": 3}, "unit": "kelvin", "days": 1, "detail": "short"})
        (out,) = run_calls(calls(("weather", args)), registry, deadline=None)
        error = json.loads(out.output)["error"]
        assert error["type"] == "invalid_arguments"
        assert error["message"] == "place.city: expected a string, got int"

    @pytest.mark.parametrize("shared", [False, True], ids=["own pool", "tool pool"])
    def test_concurrency_cap(self, shared: bool) -> None:
        """With a cap of 2, at most two calls run at once, on a pool of the wait's own and on
        the shared tool pool (which would start a thread for each)."""
        running, peak, lock = [0], [0], threading.Lock()
        barrier = threading.Barrier(2, timeout=5)

        def work(n: int) -> str:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            barrier.wait()
            with lock:
                running[0] -= 1
            return str(n)

        registry = ToolRegistry()
        registry.register(work)
        outs = run_calls(
            calls(*[("work", json.dumps({"n": i})) for i in range(4)]),
            registry,
            deadline=None,
            concurrency=2,
            executor=ToolPool() if shared else None,
        )
        assert [o.output for o in outs] == ["0", "1", "2", "3"]
        assert peak[0] == 2

    def test_async_tool(self) -> None:
        """An async def tool runs and returns its value."""

        async def shout(text: str) -> str:
            return text.upper()

        registry = ToolRegistry()
        registry.register(shout)
        assert (
            run_calls(calls(("shout", '{"text": "hi"}')), registry, deadline=None)[0].output == "HI"
        )

    def test_past_deadline_gives_timeouts(self) -> None:
        """A deadline already passed yields timeout outputs at once, never a hang."""
        release = threading.Event()

        def wait() -> str:
            release.wait(5)
            return "late"

        registry = ToolRegistry()
        registry.register(wait)
        import time

        (out,) = run_calls(calls(("wait", "{}")), registry, deadline=time.time() - 1)
        release.set()
        assert json.loads(out.output)["error"]["type"] == "timeout"


class TestLimits:
    def test_single_output_is_cut_with_marker(self) -> None:
        """An output above the per-output limit ends with the truncation marker."""
        (out,) = fit_limits([ToolOutput("c", "x" * 500)], max_chars=100, max_total_bytes=10_000)
        assert len(out.output) <= 100 and "truncated by runhook" in out.output

    def test_combined_outputs_fit_below_the_total(self) -> None:
        """Outputs together are cut, largest first, below the combined limit."""
        outs = fit_limits(
            [ToolOutput("a", "a" * 900), ToolOutput("b", "b" * 100)],
            max_chars=10_000,
            max_total_bytes=600,
        )
        assert sum(len(o.output.encode()) for o in outs) < 600
        assert outs[1].output == "b" * 100
