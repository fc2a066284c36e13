"""Helpers shared by the sandbox services: JSON responses, paging, OAuth codes and tokens."""

import json
import re
import secrets
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"


def json_response(data, status=200, headers=None):
    """A JSON response with an explicit Content-Length (needed for keep-alive)."""
    body = b"" if data is None else json.dumps(data).encode()
    resp = Response(body, status=status, headers=headers)
    if data is not None:
        resp.headers["Content-Type"] = "application/json; charset=utf-8"
    return resp


def empty_response(status=204, headers=None):
    return Response(b"", status=status, headers=headers)


def read_json(request):
    """The request body as JSON, or None when it is empty or malformed."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None


def redirect_uri_allowed(uri):
    """The sandbox accepts any redirect URI on the loopback host (contracts.md)."""
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    return host in ("localhost", "127.0.0.1", "::1")


def access_token_dead(rec, now, faults):
    """True when the access token of ``rec`` is refused: unknown, revoked, past its
    expiry, or past the ``expire_tokens_after`` fault (an early server-side expiry)."""
    if rec is None or faults.revoked or rec["expires_at"] <= now:
        return True
    early = faults.expire_tokens_after
    return bool(early) and now >= rec["issued_at"] + early


def page(rows, skip, size):
    """Slice one page; returns (rows, next_skip or None)."""
    chunk = rows[skip : skip + size]
    more = skip + size < len(rows)
    return chunk, (skip + size if more else None)


_GUID_KEY = re.compile(r"\(guid'[^']*'\)|\('[^']*'\)|\(\d+L?\)")
_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")
_UUID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}(?=/|$)")


def path_pattern(path):
    """Collapse keys and numbers so stats group requests per endpoint."""
    path = _GUID_KEY.sub("({key})", path)
    path = _UUID_SEGMENT.sub("/{id}", path)
    return _NUMBER_SEGMENT.sub("/{n}", path)


class OAuthStore:
    """Authorization codes and token pairs of one service, kept in the Store.

    Kinds used: ``oauth_code`` (key = code) and ``oauth_token`` (key = access token; the
    record holds the refresh token too). Services add their own rules (lifetimes, rotation,
    rate limits) on top.
    """

    def __init__(self, store, service, clock):
        self.store, self.service, self.clock = store, service, clock

    def issue_code(self, client_id, redirect_uri, ttl=180, **grant):
        # '!' in the code like Exact's, so clients must URL-decode it
        code = secrets.token_urlsafe(8) + "!" + secrets.token_urlsafe(24)
        self.store.insert(
            self.service,
            "oauth_code",
            {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "expires_at": self.clock.now() + ttl,
                "used": False,
                "grant": grant,
            },
            id=code,
        )
        return code

    def take_code(self, code, client_id, redirect_uri=None):
        """The code's record when valid, unused and not expired; it is used up either way."""
        rec = self.store.get(self.service, "oauth_code", code)
        if rec is None:
            return None
        if rec["used"] or rec["expires_at"] < self.clock.now() or rec["client_id"] != client_id:
            return None
        rec["used"] = True
        self.store.update(self.service, "oauth_code", code, rec)
        if redirect_uri is not None and redirect_uri != rec["redirect_uri"]:
            return None
        return rec

    def issue_tokens(self, client_id, grant, access_ttl, refresh_ttl=None, family=None):
        access = "AAEAA" + secrets.token_urlsafe(32)
        refresh = "Gcp7!" + secrets.token_urlsafe(32)
        now = self.clock.now()
        rec = {
            "access_token": access,
            "refresh_token": refresh,
            "client_id": client_id,
            "issued_at": now,
            "expires_at": now + access_ttl,
            "refresh_expires_at": now + refresh_ttl if refresh_ttl else None,
            "refresh_used": False,
            "family": family or secrets.token_hex(8),
            "grant": grant,
        }
        self.store.insert(self.service, "oauth_token", rec, id=access)
        self.store.kv_set(f"{self.service}:refresh:{refresh}", access)
        return rec

    def by_access(self, access_token):
        if not access_token:
            return None
        return self.store.get(self.service, "oauth_token", access_token)

    def by_refresh(self, refresh_token):
        access = self.store.kv_get(f"{self.service}:refresh:{refresh_token}")
        return self.store.get(self.service, "oauth_token", access) if access else None

    def save(self, rec):
        self.store.update(self.service, "oauth_token", rec["access_token"], rec)

    def latest_in_family(self, family):
        latest = None
        for rec in self.store.view(self.service, "oauth_token"):
            if rec["family"] == family and (
                latest is None or rec["issued_at"] > latest["issued_at"]
            ):
                latest = rec
        return latest
