"""OAuth layers shared by the sandbox services: the app registration (client ids, secrets,
redirect URIs), client authentication, authorization codes, token pairs and their death."""

import secrets
from urllib.parse import unquote_plus, urlsplit

SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"


class ClientRegistry:
    """The OAuth app registrations of one service, as its app registration (Exact's App
    Center, Asperion's IdentityServer client list) keeps them: client id, secret and the
    redirect URIs registered for the app.

    A redirect URI is accepted only when it equals a registered one exactly (scheme, host,
    port, path and query), as the real services check it: no prefix match, no "any
    localhost". The seeded client ``sandbox-client`` starts with no redirect URI; tests,
    the demo and the benchmarks register the one they use through
    ``POST /_sandbox/<service>/clients``. Like the app registration of the real service,
    it outlives a reset of the service's data (``/_sandbox/reset {"service": ...}``); only
    a reset of everything forgets it.
    """

    def __init__(self, store, service):
        # Not under the '<service>:' prefix, which a reset of the service wipes.
        self.store, self.key = store, f"oauth_clients:{service}"

    def _all(self):
        return self.store.kv_get(self.key) or {
            SANDBOX_CLIENT_ID: {"client_secret": SANDBOX_CLIENT_SECRET, "redirect_uris": []}
        }

    def get(self, client_id):
        return self._all().get(client_id or "")

    def secret_ok(self, client_id, secret):
        reg = self.get(client_id)
        return bool(reg) and bool(secret) and secret == reg["client_secret"]

    def redirect_ok(self, client_id, uri):
        reg = self.get(client_id)
        return bool(reg) and bool(uri) and uri in reg["redirect_uris"]

    def register(self, body):
        """Control API. ``{"client_id"?, "client_secret"?, "redirect_uris"?: [...],
        "redirect_uri"?: "..."}``: ``redirect_uris`` replaces the list, ``redirect_uri``
        adds one; a new ``client_id`` needs a ``client_secret``. Returns (status, dict)."""
        client_id = body.get("client_id") or SANDBOX_CLIENT_ID
        clients = self._all()
        reg = dict(clients.get(client_id) or {"redirect_uris": []})
        if body.get("client_secret"):
            reg["client_secret"] = str(body["client_secret"])
        if not reg.get("client_secret"):
            return 400, {"error": f"a new client {client_id!r} needs a client_secret"}
        uris = list(reg["redirect_uris"])
        if "redirect_uris" in body:
            if not isinstance(body["redirect_uris"], list):
                return 400, {"error": "redirect_uris must be a list of URLs"}
            uris = [str(u) for u in body["redirect_uris"]]
        if body.get("redirect_uri"):
            uris.append(str(body["redirect_uri"]))
        for uri in uris:
            problem = _redirect_uri_problem(uri)
            if problem:
                return 400, {"error": f"redirect URI {uri!r} {problem}"}
        reg["redirect_uris"] = list(dict.fromkeys(uris))
        clients[client_id] = reg
        self.store.kv_set(self.key, clients)
        return 200, {"client_id": client_id, "redirect_uris": reg["redirect_uris"]}


def _redirect_uri_problem(uri):
    """Why ``uri`` cannot be registered (RFC 6749 §3.1.2), or None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.fragment:
        return "must not contain a fragment"
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return "must use https (plain http only on the loopback host)"
    return None


def client_credentials(request):
    """(client_id, client_secret) of a token request: from an HTTP Basic header or from
    the form body (RFC 6749 §2.3.1). A request that uses both methods, or names two
    different clients, gets (None, None): "MUST NOT use more than one method"."""
    form = request.form
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id = unquote_plus(auth.username or "")
        secret = unquote_plus(auth.password or "")
        if form.get("client_secret") or form.get("client_id", client_id) != client_id:
            return None, None
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def authenticated_client(request, clients):
    """The client id of a token request whose credentials are right (RFC 6749 §3.2), or
    None: unknown client, wrong secret, or both credential methods at once."""
    client_id, secret = client_credentials(request)
    return client_id if clients.secret_ok(client_id, secret) else None


def access_token_dead(rec, now, faults):
    """True when the access token of ``rec`` is refused: unknown, revoked, past its
    expiry, or past the ``expire_tokens_after`` fault (an early server-side expiry)."""
    if rec is None or faults.revoked or rec["expires_at"] <= now:
        return True
    early = faults.expire_tokens_after
    return bool(early) and now >= rec["issued_at"] + early


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
        # RFC 6749 §4.1.3: the same redirect_uri as on the authorization request, exactly.
        if redirect_uri != rec["redirect_uri"]:
            return None
        return rec

    def redeem_code(self, form, client_id, faults):
        """The code record of a token request's ``code`` (form), or None: unknown, used,
        expired, for another client or redirect URI, or every grant revoked."""
        rec = self.take_code(form.get("code") or "", client_id, form.get("redirect_uri"))
        return None if rec is None or faults.revoked else rec

    def refresh_problem(self, rec, client_id, now, faults):
        """Why the token pair ``rec`` may not be refreshed by ``client_id``, or None:
        ``"unknown"`` (no such token, another client's, or revoked), ``"used"`` (rotated
        already) or ``"expired"``. Each service answers these in its own words."""
        if rec is None or faults.revoked or rec["client_id"] != client_id:
            return "unknown"
        if rec["refresh_used"]:
            return "used"
        if rec["refresh_expires_at"] is not None and now >= rec["refresh_expires_at"]:
            return "expired"
        return None

    def rotate(self, rec):
        """Use up the refresh token of ``rec``: a rotated refresh token never works again."""
        rec["refresh_used"] = True
        self.save(rec)

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
