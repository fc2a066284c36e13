"""Exact's OAuth2 authorization server on the shared sandbox.core.oauth layers."""

import datetime as dt
import html
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..core.http import json_response
from ..core.oauth import access_token_dead, authenticated_client
from .errors import ODataError, bad


class OAuthMixin:
    """Exact's OAuth2 server: consent page, codes, the token endpoint and its 570 s rule."""

    # -- OAuth -----------------------------------------------------------------------
    def authorize(self, request):
        """A tiny login/consent page; its form posts back here and redirects with a code."""
        args = request.args
        client_id, redirect_uri = args.get("client_id", ""), args.get("redirect_uri", "")
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            # Never redirect to an unregistered URI: an error page, as Exact shows.
            return Response(
                f"<h1>Exact Online</h1><p>{html.escape(problem)}</p>",
                400,
                content_type="text/html; charset=utf-8",
            )
        if request.method == "POST":
            state = args.get("state", "")
            if request.form.get("action") != "allow":
                return _redirect(redirect_uri, {"error": "access_denied", "state": state})
            chosen = [int(d) for d in request.form.getlist("division") if d.isdigit()]
            divisions = [d for d in chosen if d in self.consentable()]
            if not divisions:
                return Response(
                    "<h1>Kies minstens één administratie</h1>",
                    400,
                    content_type="text/html; charset=utf-8",
                )
            code = self.oauth.issue_code(
                client_id, redirect_uri, self.config["code_ttl"], divisions=divisions
            )
            return _redirect(redirect_uri, {"code": code, "state": state})
        return Response(self._consent_page(request), 200, content_type="text/html; charset=utf-8")

    def _consent_page(self, request):
        names = self.divisions()
        boxes = "".join(
            f'<label><input type="checkbox" name="division" value="{d}" checked> {d} '
            f"{html.escape(names[d]['Description'])}</label><br>"
            for d in self.consentable()
        )
        # Root-relative with the mount prefix (SCRIPT_NAME, e.g. /exact): the browser must
        # post back to this same page wherever the sandbox is mounted.
        action = html.escape(request.script_root + request.full_path)
        return (
            "<!doctype html><html><head><title>Exact Online (sandbox)</title></head><body>"
            "<h1>Exact Online sandbox</h1><p>Gebruiker: sandbox@example.com</p>"
            f'<form method="post" action="{action}">'
            f"<fieldset><legend>Administraties</legend>{boxes}</fieldset>"
            '<button type="submit" name="action" value="allow">Toestaan</button> '
            '<button type="submit" name="action" value="deny">Weigeren</button>'
            "</form></body></html>"
        )

    # E2: the redirect URI must be the registered one, exactly
    def _client_problem(self, client_id, redirect_uri):
        if self.clients.get(client_id) is None:
            return f"Unknown client_id {client_id!r}."
        if not self.clients.redirect_ok(client_id, redirect_uri):
            return (
                f"The redirect_uri {redirect_uri!r} does not match a redirect URL registered "
                "for this app in the App Center."
            )
        return None

    def consent(self, body):
        """Control API: the same as a user pressing 'allow' on the consent page."""
        client_id, redirect_uri = body.get("client_id", ""), body.get("redirect_uri", "")
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            return 400, {"error": problem}
        consentable = self.consentable()
        divisions = [int(d) for d in body.get("divisions") or consentable]
        if not set(divisions) <= set(consentable):
            return 400, {"error": f"the sandbox user can only consent to {list(consentable)}"}
        code = self.oauth.issue_code(
            client_id, redirect_uri, self.config["code_ttl"], divisions=divisions
        )
        params = {"code": code, "state": body.get("state", "")}
        return 200, {"redirect": _redirect_url(redirect_uri, params), "code": code}

    def token(self, request):
        if request.method != "POST":
            raise bad("Method not allowed", 405)
        form = request.form
        # E10: credentials in the body (or Basic, never both)
        client_id = authenticated_client(request, self.clients)
        if client_id is None:
            return _oauth_error(400, "invalid_request")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._token_from_code(form, client_id)
        if grant_type == "refresh_token":
            return self._token_from_refresh(form, client_id)
        return _oauth_error(400, "unsupported_grant_type")

    def _token_from_code(self, form, client_id):
        rec = self.oauth.redeem_code(form, client_id, self.faults)
        if rec is None:
            # used twice, expired (3 minutes) or for another redirect_uri
            return _oauth_error(
                400, "invalid_grant", "The authorization code is invalid or expired."
            )
        cfg = self.config
        tokens = self.oauth.issue_tokens(
            client_id, rec["grant"], cfg["access_ttl"], cfg["refresh_ttl"]
        )
        return _token_response(tokens, cfg["access_ttl"])

    def _token_from_refresh(self, form, client_id):
        with self._lock:
            rec = self.oauth.by_refresh(form.get("refresh_token", ""))
            now, cfg = self.clock.now(), self.config
            problem = self.oauth.refresh_problem(rec, client_id, now, self.faults)
            if problem == "unknown":
                return _oauth_error(400, "invalid_grant")
            # E8: refresh tokens rotate; an old one is refused at once
            if problem == "used":
                return _oauth_error(401, "unauthorized_client", "Old refresh token used.")
            # E9: unused refresh tokens die after 30 days
            if problem == "expired":
                return _oauth_error(
                    400,
                    "invalid_request",
                    f"The refresh token expired at {_us_time(rec['refresh_expires_at'])}"
                    f" and it is now {_us_time(now)}.",
                )
            # E6: no new access token within 570 s of the previous one
            if now - rec["issued_at"] < cfg["min_token_age"]:
                # E7: [unverified] whether the current pair survives a too-early refresh: we keep
                # it usable, so a client that backs off keeps working (the friendlier reading)
                msg = "Rate limit exceeded: access_token not expired"
                resp = _oauth_error(400, "access_denied", msg)
                resp.headers["Reason"] = "TooEarlyToRefreshTokens: " + msg
                return resp
            self.oauth.rotate(rec)
            tokens = self.oauth.issue_tokens(
                rec["client_id"],
                rec["grant"],
                cfg["access_ttl"],
                cfg["refresh_ttl"],
                family=rec["family"],
            )
        return _token_response(tokens, cfg["access_ttl"])

    def authenticate(self, request):
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        rec = self.oauth.by_access(token)
        if access_token_dead(rec, self.clock.now(), self.faults):
            raise ODataError(
                401, "Unauthorized", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return rec


def _redirect_url(uri, params):
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _redirect(uri, params):
    return Response("", 302, headers={"Location": _redirect_url(uri, params)})


def _oauth_error(status, error, description=None):
    body = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(body, status)


def _token_response(tokens, ttl):
    return json_response(
        {
            "access_token": tokens["access_token"],
            "token_type": "bearer",
            # E4: expires_in is a string
            "expires_in": str(int(ttl)),  # a string, like Exact (picqer checks ctype_digit)
            "refresh_token": tokens["refresh_token"],
        }
    )


def _us_time(epoch):
    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return f"{stamp.month}/{stamp.day}/{stamp.year} {stamp.strftime('%I:%M:%S %p').lstrip('0')}"
