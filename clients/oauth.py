"""OAuth2 authorization-code flow with rotating refresh tokens that survive concurrency.

Rules (Exact is the strictest, the others are a subset):

* every token pair is saved the moment it arrives, inside ``token_store.locked()``;
* after taking the lock the stored token is re-read: when another worker already refreshed
  it, that token is used and no token-endpoint call is made;
* a token is refreshed only in its last ``min(refresh_margin, lifetime / 2)`` seconds (a
  30-second token is not refreshed before every call) and, on the local clock, never
  before ``min_token_age`` (Exact: 570 s after it was obtained);
* a token the API refused (401) is always refreshed once, whatever the local clock says:
  the server may expire a token earlier than its ``expires_in``. Only the token endpoint's
  answer decides: a dead link (``invalid_grant``, "Old refresh token used.", expired or
  revoked refresh token) raises :class:`AuthExpired`; Exact's "too early" answer keeps the
  current token and raises :class:`RetryableError` (wait, then try again).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from .errors import (
    AuthExpired,
    BookkeepingError,
    RefreshTooEarly,
    RetryableError,
    ValidationError,
)
from .redact import excerpt

DEFAULT_TIMEOUT = (5, 30)


@runtime_checkable
class TokenStore(Protocol):
    """Where a link keeps its token dict.

    Keys: ``access_token``, ``refresh_token``, ``expires_at`` and ``obtained_at`` (epoch
    floats); extra keys are kept as they are.
    """

    def read(self) -> dict | None:
        """The stored token, or None when the link was never made (no lock taken)."""

    def locked(self) -> contextlib.AbstractContextManager[dict | None]:
        """Exclusive lock (across threads and processes), yielding the freshly re-read token."""

    def save(self, token: dict) -> None:
        """Persist ``token`` at once (committed, even if the caller's transaction fails)."""


class MemoryTokenStore:
    """A :class:`TokenStore` in memory, for tests and scripts (thread-safe)."""

    def __init__(self, token: dict | None = None):
        self._token = copy.deepcopy(token)
        self._lock = threading.RLock()
        self.saves = 0

    def read(self) -> dict | None:
        with self._lock:
            return copy.deepcopy(self._token)

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict | None]:
        with self._lock:
            yield copy.deepcopy(self._token)

    def save(self, token: dict) -> None:
        with self._lock:
            self._token = copy.deepcopy(token)
            self.saves += 1


# Token-endpoint answers that mean the link is dead and only a new consent helps.
_DEAD_ERRORS = {"invalid_grant", "unauthorized_client", "invalid_client", "unsupported_grant_type"}
_DEAD_PHRASES = (
    "old refresh token used",
    "refresh token expired",
    "the refresh token expired",
    "refresh token is invalid",
    "revoked",
)
_TOO_EARLY_PHRASES = ("access_token not expired", "toearlytorefreshtokens", "too early")


def _allow_loopback_http(url: str) -> None:
    # oauthlib refuses plain http; the local sandbox serves http on loopback only.
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


class OAuth2Client:
    """Token manager of one link (one administration/division of one service)."""

    def __init__(
        self,
        token_url: str,
        authorize_url: str,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        *,
        min_token_age: float | None = None,
        refresh_margin: float = 60,
        timeout=DEFAULT_TIMEOUT,
        scope=None,
        service: str = "oauth",
        on_call: Callable[[dict], None] | None = None,
        now: Callable[[], float] = time.time,
        session_factory: Callable[..., OAuth2Session] | None = None,
    ):
        self.token_url = token_url
        self.authorize_url = authorize_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_store = token_store
        self.min_token_age = min_token_age
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self.scope = scope
        self.service = service
        self.on_call = on_call
        self.now = now
        self.session_factory = session_factory or OAuth2Session
        self.token_calls = 0  # token-endpoint calls made by this object (tests, stats)
        _allow_loopback_http(token_url)

    # -- authorization ------------------------------------------------------------------
    def authorization_url(self, redirect_uri: str, state: str, **extra) -> str:
        """URL of the consent page; ``extra`` adds query parameters (e.g. ``force_login=1``)."""
        scope = extra.pop("scope", self.scope)
        session = self.session_factory(
            client=WebApplicationClient(self.client_id), redirect_uri=redirect_uri, scope=scope
        )
        url, _state = session.authorization_url(self.authorize_url, state=state, **extra)
        return url

    def fetch_token(self, code: str, redirect_uri: str) -> dict:
        """Exchange the callback ``code`` for tokens and save them at once."""
        with self.token_store.locked():
            token = self._exchange("authorization_code", code=code, redirect_uri=redirect_uri)
            self.token_store.save(token)
        return token

    # -- using and refreshing -----------------------------------------------------------
    def is_valid(self, token: dict | None, now: float | None = None) -> bool:
        """True when ``token`` has an access token that has not expired yet."""
        now = self.now() if now is None else now
        return bool(token and token.get("access_token")) and now < float(
            token.get("expires_at") or 0
        )

    def margin(self, token: dict) -> float:
        """Seconds before expiry at which ``token`` is refreshed: ``refresh_margin``, but
        never more than half the token's lifetime."""
        expires_at = float(token.get("expires_at") or 0)
        lifetime = expires_at - float(token.get("obtained_at") or expires_at)
        if lifetime <= 0:
            lifetime = float(token.get("expires_in") or 0)
        return min(self.refresh_margin, lifetime / 2) if lifetime > 0 else self.refresh_margin

    def refresh_due(self, token: dict, now: float | None = None) -> bool:
        """True when ``token`` is in the last :meth:`margin` seconds of its life."""
        now = self.now() if now is None else now
        return now >= float(token.get("expires_at") or 0) - self.margin(token)

    def too_early(self, token: dict, now: float | None = None) -> bool:
        """True while the service refuses a refresh (``min_token_age`` not reached)."""
        if not self.min_token_age:
            return False
        now = self.now() if now is None else now
        return now < float(token.get("obtained_at") or 0) + self.min_token_age

    def access_token(self) -> str:
        """A usable access token, refreshing it only when it is due."""
        token = self.token_store.read()
        if not token or not token.get("access_token"):
            raise AuthExpired("This link has no token yet: connect it first.")
        now = self.now()
        if not self.refresh_due(token, now) or (
            self.too_early(token, now) and self.is_valid(token, now)
        ):
            return token["access_token"]
        return self.refresh(held=token["access_token"])["access_token"]

    def refresh(
        self, held: str | None = None, *, force: bool = False, rejected: bool = False
    ) -> dict:
        """Refresh under the store lock and return the token now in force.

        ``held``: the access token the caller used; when the stored one differs and is valid,
        another worker refreshed it and no call is made. ``force``: refresh even outside the
        margin (keep-alive), still never before ``min_token_age``. ``rejected``: the API
        refused ``held`` (401): the token endpoint is asked once whatever the local clock
        says, and only its answer decides (dead link: :class:`AuthExpired`; too early: the
        token is kept and :class:`RetryableError` says to try again later).
        """
        with self.token_store.locked() as current:
            if not current or not current.get("refresh_token"):
                raise AuthExpired("This link has no refresh token: connect it again.")
            now = self.now()
            if (
                held is not None
                and current.get("access_token") != held
                and self.is_valid(current, now)
            ):
                return current  # another worker refreshed meanwhile
            if rejected:
                return self._refresh_rejected(current)
            if self.too_early(current, now):
                if self.is_valid(current, now):
                    return current
                raise RefreshTooEarly(
                    "The access token expired before it may be refreshed; try again shortly."
                )
            if not force and not self.refresh_due(current, now):
                return current
            try:
                token = self._exchange("refresh_token", refresh_token=current["refresh_token"])
            except _TooEarly as exc:
                if self.is_valid(current, now):
                    return current
                raise RefreshTooEarly(
                    "The service says it is too early to refresh the token; try again shortly.",
                    status=exc.status,
                    remote_message=exc.remote_message,
                    reason=exc.reason,
                )
            return self._saved(token, current)

    def _refresh_rejected(self, current: dict) -> dict:
        """The API refused the access token: the server may have expired it early, so ask
        the token endpoint (never the local clock) what to do."""
        try:
            token = self._exchange("refresh_token", refresh_token=current["refresh_token"])
        except _TooEarly as exc:
            # The current pair stays stored: a later attempt refreshes it or uses it.
            raise RefreshTooEarly(
                "The service refused the access token before its expiry and says it is too "
                "early to refresh it; the link is kept and the call is tried again later.",
                status=exc.status,
                remote_message=exc.remote_message,
                reason=exc.reason,
            )
        return self._saved(token, current)

    def _saved(self, token: dict, current: dict) -> dict:
        if not token.get("refresh_token"):
            token["refresh_token"] = current["refresh_token"]
        self.token_store.save(token)
        return token

    # -- token endpoint -----------------------------------------------------------------
    def _exchange(self, grant: str, **params) -> dict:
        session = self.session_factory(
            client=WebApplicationClient(self.client_id),
            redirect_uri=params.get("redirect_uri"),
            scope=self.scope,
        )
        captured: dict = {}

        def check(response):
            captured["response"] = response
            self._check_token_response(response)
            return response

        hook = (
            "access_token_response" if grant == "authorization_code" else ("refresh_token_response")
        )
        session.register_compliance_hook(hook, check)
        started = time.monotonic()
        self.token_calls += 1
        record = {
            "service": self.service,
            "method": "POST",
            "path": urlsplit(self.token_url).path,
            "status": None,
            "request_excerpt": f"grant_type={grant}",
            "response_excerpt": "",
            "outcome": "ok",
            "message": "",
        }
        try:
            if grant == "authorization_code":
                raw = session.fetch_token(
                    self.token_url,
                    code=params["code"],
                    include_client_id=True,
                    client_secret=self.client_secret,
                    timeout=self.timeout,
                )
            else:
                raw = session.refresh_token(
                    self.token_url,
                    refresh_token=params["refresh_token"],
                    client_id=self.client_id,
                    client_secret=self.client_secret,
                    timeout=self.timeout,
                )
        except BookkeepingError as exc:
            record.update(outcome="error", message=str(exc))
            raise
        except requests.Timeout as exc:
            record.update(outcome="error", message=f"timeout: {exc}")
            raise RetryableError(
                "The token service did not answer in time; try again later."
            ) from exc
        except requests.ConnectionError as exc:
            record.update(outcome="error", message=f"connection error: {exc}")
            raise RetryableError("The token service could not be reached; try again later.")
        except OAuth2Error as exc:
            record.update(outcome="error", message=str(exc))
            raise AuthExpired(
                f"The token service refused the request ({exc.error}); connect the link again.",
                status=exc.status_code,
                remote_message=exc.description,
            )
        finally:
            response = captured.get("response")
            if response is not None:
                record["status"] = response.status_code
                record["response_excerpt"] = excerpt(response.text)
            record["duration_ms"] = int((time.monotonic() - started) * 1000)
            if self.on_call:
                with contextlib.suppress(Exception):
                    self.on_call(record)
        return self._normalise(raw)

    def _normalise(self, raw: dict) -> dict:
        now = self.now()
        try:
            expires_in = float(raw.get("expires_in") or 0)  # Exact sends the string "600"
        except (TypeError, ValueError):
            expires_in = 0.0
        token = {k: v for k, v in raw.items() if k not in ("expires_at",)}
        token.update(
            access_token=raw["access_token"],
            refresh_token=raw.get("refresh_token"),
            token_type="Bearer",  # comes as bearer or Bearer
            expires_in=expires_in or 3600.0,
            obtained_at=now,
            expires_at=now + (expires_in or 3600.0),
        )
        return token

    def _check_token_response(self, response) -> None:
        """Turn token-endpoint failures into typed errors before oauthlib parses them."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status == 200 and isinstance(body, dict) and body.get("access_token"):
            return
        reason = response.headers.get("Reason")
        error = description = ""
        if isinstance(body, dict):
            error = str(body.get("error") or "")
            description = str(body.get("error_description") or "")
        text = f"{error} {description} {reason or ''}".lower()
        if any(p in text for p in _TOO_EARLY_PHRASES):
            raise _TooEarly(
                "too early", status=status, remote_message=description or error, reason=reason
            )
        if status >= 500 or status == 429 or body is None:
            raise RetryableError(
                f"The token service had a temporary problem (HTTP {status}); try again later.",
                status=status,
                remote_message=description or response.text[:200],
                reason=reason,
            )
        if (
            error in _DEAD_ERRORS
            or any(p in text for p in _DEAD_PHRASES)
            or status in (400, 401, 403)
        ):
            raise AuthExpired(
                "The link to the bookkeeping service has expired or was revoked; connect it again.",
                status=status,
                remote_message=description or error,
                reason=reason,
            )
        raise ValidationError(
            f"The token service answered HTTP {status} without a token.",
            status=status,
            remote_message=description or error,
            reason=reason,
        )


class _TooEarly(RetryableError):
    """Exact refused the refresh because the current access token is still young."""
