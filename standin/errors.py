"""The stand-in's one error: the answer a route gives when the real API would refuse.

::

    Exception
    └── ApiError          an OpenAI-style error answer: HTTP status, message, param, code;
                          ``runhook.standin.wire`` turns it into the JSON error envelope

It is not one of runhook's errors (``runhook.errors``, ``runhook.events.errors``): the stand-in
plays the OpenAI API, and what it raises is what that API would answer.
"""

from __future__ import annotations


class ApiError(Exception):
    """An OpenAI-style error answer."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
