"""Typed errors raised by the bookkeeping clients.

Every error carries what the Odoo side needs to decide what to do next and to tell a person:
``message`` (a sentence a user can act on), the HTTP ``status``, the remote service's own words
(``remote_message``), per-field problems (``field_errors``), the remote ``reason`` (Exact's
``Reason`` header) and whether trying again later can help (``retryable``).
"""

from __future__ import annotations

import datetime as _dt


class BookkeepingError(Exception):
    """Base class of every error raised by ``clients``."""

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        remote_message: str | None = None,
        field_errors: dict | None = None,
        reason: str | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.remote_message = remote_message
        self.field_errors = field_errors or {}
        self.reason = reason
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        text = self.message
        if self.remote_message and self.remote_message not in text:
            text = f"{text} The service said: {self.remote_message}"
        if self.field_errors:
            details = "; ".join(
                f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list | tuple) else msgs}"
                for field, msgs in self.field_errors.items()
            )
            if details and details not in text:
                text = f"{text} ({details})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"reason={self.reason!r}, retryable={self.retryable!r})"
        )

    def to_dict(self) -> dict:
        """A JSON-friendly summary, e.g. to store on an invoice or a log line."""
        return {
            "type": type(self).__name__,
            "message": str(self),
            "status": self.status,
            "remote_message": self.remote_message,
            "field_errors": self.field_errors,
            "reason": self.reason,
            "retryable": self.retryable,
        }


class AuthExpired(BookkeepingError):
    """The token (or the credentials) can no longer be used: a new login/consent is needed."""


class AccessDenied(BookkeepingError):
    """403: the administration/division is not reachable with this link (consent, rights)."""


class RateLimited(BookkeepingError):
    """The rate-limit budget is spent; try again at ``retry_at`` (epoch seconds)."""

    default_retryable = True

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_at: float | None = None,
        scope: str = "minute",
        **kwargs,
    ):
        self.retry_at = retry_at
        self.scope = scope
        if message is None:
            when = ""
            if retry_at:
                stamp = _dt.datetime.fromtimestamp(retry_at, _dt.timezone.utc)
                when = f" until {stamp:%Y-%m-%d %H:%M:%S} UTC"
            if scope == "day":
                message = (
                    f"The daily API budget of this administration is (nearly) used up; "
                    f"sending is paused{when}."
                )
            else:
                message = f"The API rate limit was reached; sending is paused{when}."
        super().__init__(message, **kwargs)


class RetryableError(BookkeepingError):
    """A temporary problem (5xx, timeout, connection): the same request may be tried later."""

    default_retryable = True


class RefreshTooEarly(RetryableError):
    """The token may not be refreshed yet (Exact's 570-second rule): the link is fine, but
    only waiting helps, so the call is not tried again within the same run."""


class OutcomeUnknown(RetryableError):
    """A create/write may or may not have been applied: look it up before trying again."""


class ValidationError(BookkeepingError):
    """The service refused the data (functional 4xx, or a 500 that is a validation error).

    Never retried as is: correct the data or the mapping first.
    """


class NotFound(BookkeepingError):
    """404: the record or URL does not exist (any more) on the remote side."""
