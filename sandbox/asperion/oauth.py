"""Asperion's identity server (IdentityServer) on the shared sandbox.core.oauth layers."""

import json
from html import escape

from werkzeug.wrappers import Response

from ..core.oauth import authenticated_client
from . import seed
from .errors import (
    ApiError,
)
from .query import add_query


class OAuthMixin:
    """The IdentityServer: authorize, consent page, the token endpoint, rotation."""

    # -- identity (IdentityServer) ---------------------------------------------------
    def _identity(self, request, what):
        if what == "authorize":
            return self._authorize(request)
        if what == "token" and request.method == "POST":
            return self._token(request)
        raise ApiError(404, "not_found", detail="route_detail", path=request.path)

    def _issue_code(self, client_id, redirect_uri, scope, administrations):
        return self.oauth.issue_code(
            client_id,
            redirect_uri,
            ttl=self.config["code_lifetime"],
            scope=scope,
            administrations=administrations,
        )

    # A2: code flow with a consent page
    def _authorize(self, request):
        values = request.form if request.method == "POST" else request.args
        client_id, redirect_uri = values.get("client_id"), values.get("redirect_uri") or ""
        state, scope = values.get("state") or "", values.get("scope") or ""
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            # IdentityServer shows an error page and never redirects to an unknown URI.
            return _html(f"<h1>Fout</h1><p>{escape(problem)}</p>", 400)
        if request.method != "POST":
            # Root-relative with the mount prefix: works behind any host name or proxy.
            return _html(_consent_page(request.script_root + request.path, values))
        if values.get("consent") != "yes":
            return _redirect(add_query(redirect_uri, error="access_denied", state=state))
        code = self._issue_code(client_id, redirect_uri, scope, list(seed.REACHABLE))
        return _redirect(add_query(redirect_uri, code=code, state=state))

    def _client_problem(self, client_id, redirect_uri):
        if self.clients.get(client_id) is None:
            return "unauthorized_client: unknown client_id"
        if not self.clients.redirect_ok(client_id, redirect_uri):
            return "unauthorized_client: Invalid redirect_uri"
        return None

    def _token(self, request):
        form = request.form
        # The body (S4); HTTP Basic is tolerated (RFC 6749 §2.3.1), never both at once.
        client_id = authenticated_client(request, self.clients)
        if client_id is None:
            return _oauth_error("invalid_client", "Unknown client or wrong secret")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                rec = self.oauth.redeem_code(form, client_id, self.faults)
                if rec is None:
                    return _oauth_error("invalid_grant", "Invalid or expired code")
                return self._tokens(client_id, rec["grant"], None)
            if grant_type == "refresh_token":
                return self._refresh(client_id, form.get("refresh_token") or "")
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}")

    def _refresh(self, client_id, refresh_token):
        rec = self.oauth.by_refresh(refresh_token)
        if self.oauth.refresh_problem(rec, client_id, self.clock.now(), self.faults):
            # A5: a dead grant is invalid_grant
            return _oauth_error("invalid_grant", "Invalid refresh token")
        # A4: rotation, the strictest reading
        self.oauth.rotate(rec)
        return self._tokens(client_id, rec["grant"], rec["family"])

    def _tokens(self, client_id, grant, family):
        rec = self.oauth.issue_tokens(
            client_id,
            grant,
            self.config["access_token_lifetime"],
            self.config["refresh_token_lifetime"],
            family,
        )
        body = {
            "access_token": rec["access_token"],
            "token_type": "Bearer",
            "expires_in": self.config["access_token_lifetime"],
            "refresh_token": rec["refresh_token"],
            # A6: any scope; a refresh token always
            "scope": grant.get("scope") or "openid offline_access api",
        }
        return Response(
            json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )


def _redirect(url):
    return Response(status=302, headers={"Location": url})


def _oauth_error(error, description):
    body = {"error": error, "error_description": description}
    return Response(json.dumps(body), status=400, content_type="application/json")


def _html(body, status=200):
    page = f"<!doctype html><html><head><title>Asperion</title></head><body>{body}</body></html>"
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def _consent_page(action, values):
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(values.get(k) or "")}">'
        for k in ("client_id", "redirect_uri", "state", "scope", "response_type")
    )
    return (
        "<h1>Asperion login</h1>"
        f'<form method="post" action="{escape(action)}">{hidden}'
        '<label>E-mail <input name="username" value="demo@sandbox.test"></label>'
        '<label>Wachtwoord <input type="password" name="password" value="sandbox"></label>'
        f"<p>{escape(values.get('client_id') or '')} vraagt toegang tot uw administraties.</p>"
        '<button type="submit" name="consent" value="yes">Yes, Allow</button>'
        '<button type="submit" name="consent" value="no">No, Do Not Allow</button>'
        "</form>"
    )
