"""Shared HTTP machinery: timeouts, rate limits, safe retries, typed errors, call records."""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import requests

from .errors import (
    AccessDenied,
    AuthExpired,
    BookkeepingError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryableError,
    ValidationError,
)
from .oauth import OAuth2Client
from .ratelimit import RETRY_AFTER_ONLY, RateLimiter, RatePolicy, parse_retry_after
from .redact import excerpt, redact

__all__ = ["ApiClient", "redact", "excerpt", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = (5, 30)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
PATH_CHARS = 500
_KEY_SEGMENT = re.compile(r"\d+|[0-9a-fA-F-]{32,36}")


def _endpoint(url: str, base_url: str) -> str:
    """The endpoint of ``url`` below ``base_url``: its path up to the first key segment
    (a number, a GUID, an OData key in parentheses), lower-cased: ``/v2/customers/1f3e..``
    -> ``v2/customers``."""
    path = urlsplit(url).path
    base = urlsplit(base_url).path.rstrip("/")
    if base and path.startswith(base):
        path = path[len(base) :]
    kept = []
    for segment in path.strip("/").split("/"):
        if _KEY_SEGMENT.fullmatch(segment) or "(" in segment:
            break
        kept.append(segment.lower())
    return "/".join(kept)


def _trim_path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{redact(parts.query)}"
    return path[:PATH_CHARS]


class ApiClient:
    """Base of the service clients: one ``requests.Session`` (keep-alive) per client.

    Subclasses set ``service`` and ``rate_policy`` (how their service tells its budget:
    :class:`~.ratelimit.RatePolicy`) and may override :meth:`default_headers`,
    :meth:`error_from_response` and :meth:`after_response`.
    """

    service = "api"
    rate_policy: RatePolicy = RETRY_AFTER_ONLY

    def __init__(
        self,
        base_url: str,
        *,
        oauth: OAuth2Client | None = None,
        limiter: RateLimiter | None = None,
        on_call: Callable[[dict], None] | None = None,
        timeout=DEFAULT_TIMEOUT,
        max_retries: int = 3,
        max_429_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.oauth = oauth
        self.limiter = limiter
        self.on_call = on_call  # after self.oauth: token calls share the hook
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_429_retries = max_429_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.session = session or requests.Session()

    @property
    def on_call(self) -> Callable[[dict], None] | None:
        """The call-log hook; the OAuth client's token calls go to it too."""
        return self._on_call

    @on_call.setter
    def on_call(self, hook: Callable[[dict], None] | None) -> None:
        previous = getattr(self, "_on_call", None)
        self._on_call = hook
        # A token call is a remote call like any other: it reaches the same call log,
        # whichever way the caller built the OAuth client.
        if self.oauth is not None and self.oauth.on_call in (None, previous):
            self.oauth.on_call = hook

    # -- hooks --------------------------------------------------------------------------
    def default_headers(self, method: str, url: str) -> dict:
        """Headers sent with every request (before ``headers=`` of the call)."""
        return {"Accept": "application/json"}

    def error_from_response(self, response: requests.Response) -> BookkeepingError:
        """Map a non-2xx response to a typed error."""
        status = response.status_code
        remote = self.remote_message(response)
        reason = response.headers.get("Reason")
        kwargs = {"status": status, "remote_message": remote, "reason": reason}
        if status == 401:
            return AuthExpired(
                f"{self.service_label} refused the access token; connect the link again.",
                **kwargs,
            )
        if status == 403:
            return AccessDenied(
                f"{self.service_label} denied access to this administration "
                f"(consent or user rights missing).",
                **kwargs,
            )
        if status == 404:
            return NotFound(f"{self.service_label} does not know this record or URL.", **kwargs)
        if status == 429:
            return RateLimited(**kwargs)
        if status >= 500:
            return RetryableError(
                f"{self.service_label} had a temporary problem (HTTP {status}); "
                "it will be tried again later.",
                **kwargs,
            )
        return ValidationError(
            f"{self.service_label} refused the request (HTTP {status}).", **kwargs
        )

    def remote_message(self, response: requests.Response) -> str | None:
        """The service's own error text, if any."""
        text = (response.text or "").strip()
        return text[:1000] or None

    def after_response(self, response: requests.Response, *, use_limiter: bool) -> None:
        """Look at every response (subclass hook; the budget headers are read already)."""

    def limiter_for_url(self, url: str) -> RateLimiter | None:
        """The limiter of a request to ``url``: the link's own, or, when the service counts
        per endpoint (``rate_policy.scope``), the one of that endpoint."""
        if self.limiter is None or self.rate_policy.scope != "endpoint":
            return self.limiter
        key = self.limiter.key if isinstance(self.limiter.key, tuple) else (self.limiter.key,)
        return self.limiter.for_key(
            self.rate_policy.limiter_key(key, _endpoint(url, self.base_url)),
            **self.rate_policy.limiter_options,
        )

    @property
    def service_label(self) -> str:
        return self.service.capitalize()

    # -- core ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter: never all workers at once

    def _record(self, **record) -> None:
        if not self.on_call:
            return
        record.setdefault("service", self.service)
        with contextlib.suppress(Exception):  # logging must never break a call
            self.on_call(record)

    def _request_excerpt(self, json, data, files) -> str:
        if files:
            names = []
            for name, value in files.items() if isinstance(files, dict) else files:
                if isinstance(value, tuple) and len(value) >= 2:
                    size = len(value[1]) if isinstance(value[1], bytes | str) else "?"
                    names.append(f"{name}={value[0]} ({size} bytes)")
                else:
                    names.append(str(name))
            return "files: " + ", ".join(names)
        return excerpt(json if json is not None else data)

    def rate_limit_snapshot(self) -> dict:
        """The known rate-limit budget of this client's administration (may be empty)."""
        return self.limiter.snapshot() if self.limiter else {}

    def request(
        self,
        method: str,
        url: str,
        *,
        params=None,
        json=None,
        data=None,
        files=None,
        headers: dict | None = None,
        idempotent: bool | None = None,
        use_limiter: bool = True,
    ) -> requests.Response:
        """Send one logical request; returns the 2xx ``requests.Response``.

        Safe requests (``idempotent``, default: GET/PUT/DELETE) are retried on 5xx,
        timeouts and connection errors; a 429 is waited out and retried for any method;
        a POST whose outcome is unknown raises :class:`OutcomeUnknown`.
        """
        method = method.upper()
        full_url = self.url(url)
        ctx = {
            "method": method,
            "idempotent": method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            "attempt": 0,
            "retries_429": 0,
            "refreshed": False,
            "limiter": self.limiter_for_url(full_url) if use_limiter else None,
        }
        request_excerpt = self._request_excerpt(json, data, files)
        # the logged path includes the query string that params= adds
        log_path = _trim_path(requests.Request("GET", full_url, params=params).prepare().url)
        while True:
            limiter = ctx["limiter"]
            if limiter is not None:
                limiter.acquire()  # may sleep: take the token afterwards so it is fresh
            started = time.monotonic()
            record = {
                "service": self.service,
                "method": method,
                "path": log_path,
                "request_excerpt": request_excerpt,
            }
            try:
                send_headers = self.default_headers(method, full_url)
                ctx["token"] = None
                if self.oauth is not None:
                    ctx["token"] = self.oauth.access_token()
                    send_headers["Authorization"] = f"Bearer {ctx['token']}"
                if headers:
                    send_headers.update(headers)
                started = time.monotonic()
                response = self.session.request(
                    method,
                    full_url,
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    headers=send_headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                if limiter is not None:
                    limiter.release()
                record["duration_ms"] = int((time.monotonic() - started) * 1000)
                self._transport_error(exc, record, ctx)  # raises or returns to retry
                continue
            except BaseException:
                if limiter is not None:
                    limiter.release()
                raise
            if limiter is not None:
                limiter.settle(response.headers, self.rate_policy)
            self.after_response(response, use_limiter=use_limiter)
            record.update(
                status=response.status_code,
                duration_ms=int((time.monotonic() - started) * 1000),
                response_excerpt=excerpt(response.text),
            )
            if response.status_code < 400:
                try:
                    self.check_response(response)
                except BookkeepingError as exc:
                    self._record(**record, outcome="error", message=str(exc)[:500])
                    raise
                self._record(**record, outcome="ok", message="")
                return response
            self._error_status(response, record, ctx)  # raises or returns to retry

    def _transport_error(self, exc: Exception, record: dict, ctx: dict) -> None:
        """Timeout or lost connection: retry when safe, else raise."""
        # A connect failure means nothing was sent: safe to repeat for any method.
        not_sent = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and "NewConnectionError" in repr(exc)
        )
        kind = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
        safe = ctx["idempotent"] or not_sent
        can_retry = safe and ctx["attempt"] < self.max_retries
        self._record(
            **record,
            status=None,
            outcome="retry" if can_retry else "error",
            message=f"{kind}: {exc}"[:500],
            response_excerpt="",
        )
        if can_retry:
            self.sleep(self._backoff(ctx["attempt"]))
            ctx["attempt"] += 1
            return
        if not safe:
            raise OutcomeUnknown(
                f"{self.service_label} did not confirm the {ctx['method']} ({kind}); it may "
                "or may not have been applied. It is looked up before trying again.",
            ) from exc
        raise RetryableError(
            f"{self.service_label} could not be reached ({kind}); it will be tried again later."
        ) from exc

    def _error_status(self, response: requests.Response, record: dict, ctx: dict) -> None:
        """Non-2xx answer: wait and return to retry, or raise a typed error."""
        status = response.status_code
        limiter = ctx["limiter"]
        if status == 429:
            retry_at = self._note_throttle(response, limiter)
            if ctx["retries_429"] < self.max_429_retries:
                self._record(**record, outcome="retry", message="rate limited (429)")
                ctx["retries_429"] += 1
                if limiter is None:
                    self.sleep(max(0.0, (retry_at or time.time() + 1) - time.time()))
                return  # with a limiter, the next acquire() waits for the reset
            err = RateLimited(retry_at=retry_at, status=429)
            self._record(**record, outcome="error", message=str(err))
            raise err
        if status == 401 and self.oauth is not None and not ctx["refreshed"]:
            # Always one refresh, whatever the local clock says: the server may expire a
            # token early. Its token endpoint decides (dead grant, too early, new pair).
            ctx["refreshed"] = True
            try:
                self.oauth.refresh(held=ctx["token"], force=True, rejected=True)
            except BookkeepingError as exc:
                message = f"access token refused (401); {exc}"
                self._record(**record, outcome="error", message=message[:500])
                raise
            self._record(**record, outcome="retry", message="access token refused (401)")
            return
        err = self.error_from_response(response)
        if isinstance(err, RetryableError) and not isinstance(err, RateLimited):
            retry_after = response.headers.get("Retry-After")
            if retry_after and limiter is not None:
                limiter.update_from_retry_after(retry_after)
            if ctx["idempotent"] and ctx["attempt"] < self.max_retries:
                self._record(**record, outcome="retry", message=str(err)[:500])
                delay = self._backoff(ctx["attempt"])
                ra_at = parse_retry_after(retry_after)
                if ra_at and limiter is None:
                    delay = max(delay, min(self.backoff_cap * 4, ra_at - time.time()))
                self.sleep(delay)
                ctx["attempt"] += 1
                return
            if not ctx["idempotent"]:
                err = OutcomeUnknown(
                    f"{self.service_label} answered HTTP {status} to a {ctx['method']}; it may "
                    "or may not have been applied. It is looked up before trying again.",
                    status=status,
                    remote_message=err.remote_message,
                    reason=err.reason,
                )
        self._record(**record, outcome="error", message=str(err)[:500])
        raise err

    def check_response(self, response: requests.Response) -> None:
        """Refuse a 2xx response that must not be trusted (subclass hook)."""

    def _note_throttle(self, response, limiter: RateLimiter | None) -> float | None:
        if limiter is not None:
            limiter.on_429(response.headers, policy=self.rate_policy, body=response.text)
            snap = limiter.snapshot()
            candidates = [snap["blocked_until"] or 0]
            if snap["minute_remaining"] == 0 and snap["minute_reset"]:
                candidates.append(snap["minute_reset"] + limiter.margin)
            return max(candidates) or None
        return self.rate_policy.retry_at(response.headers, response.text, time.time())

    # -- helpers ------------------------------------------------------------------------
    def get_json(self, url: str, params=None, **kwargs):
        """GET and decode JSON (``None`` for an empty body)."""
        response = self.request("GET", url, params=params, **kwargs)
        return self.decode(response)

    def decode(self, response: requests.Response):
        """JSON body of ``response`` (``None`` when empty); HTML is a retryable error."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RetryableError(
                f"{self.service_label} answered with something that is not JSON; "
                "it will be tried again later.",
                status=response.status_code,
                remote_message=response.text[:300],
            )

    def iter_pages(
        self,
        first_url: str,
        params=None,
        next_of: Callable[[object], str | None] = lambda body: None,
        items_of: Callable[[object], list] = lambda body: body or [],
    ) -> Iterator[dict]:
        """Yield the items of every page, following ``next_of(body)`` one page at a time."""
        url, page_params = first_url, params
        seen = set()
        while url:
            body = self.get_json(url, params=page_params)
            yield from items_of(body) or []
            next_url = next_of(body)
            if not next_url or next_url in seen:  # a repeated link would loop forever
                return
            seen.add(next_url)
            url, page_params = next_url, None  # next links keep their own query
