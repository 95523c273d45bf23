"""A local, faithful stand-in for the parts of the OpenAI API runhook uses.

For the demo, the tests and the benchmarks; nothing in runhook's production path imports it.
"""

from __future__ import annotations

from handlers.standin.server import StandinServer
from handlers.standin.state import StandinConfig

__all__ = ["StandinConfig", "StandinServer"]
