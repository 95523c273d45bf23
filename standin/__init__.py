"""A local, faithful stand-in for the parts of the OpenAI API runhook uses.

For the demo, the tests and the benchmarks; nothing in runhook's production path imports it.
"""

from __future__ import annotations

from runhook.standin.server import StandinServer
from runhook.standin.state import StandinConfig

__all__ = ["StandinConfig", "StandinServer"]
