"""The Visma identity server (IdentityServer): authorize with a company picker, token,
revocation. Facts V2-V11 in doc/api/visma.md."""

import json
from html import escape
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..core.oauth import OAuthStore, access_token_dead  # shared sandbox code: one place
from . import seed

KNOWN_SCOPES = {
    "ea:api",
    "offline_access",
    "openid",
    "ea:sales",
    "ea:sales_readonly",
    "ea:accounting",
    "ea:accounting_readonly",
    "ea:purchase",
    "ea:purchase_readonly",
}
SERVICE = "visma"


def _oauth_error(error, description, status=400):
    # V11 [I]: standard OAuth JSON with HTTP 400
    return Response(
        json.dumps({"error": error, "error_description": description}),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _add_query(url, **params):
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _redirect(url):
    return Response("", status=302, headers={"Location": url})


def _html(body, status=200):
    page = f"<!doctype html><html><head><title>Visma</title></head><body>{body}</body></html>"
    return Response(page, status=status, content_type="text/html; charset=utf-8")


class Identity:
    """Codes and tokens of the identity server; ``svc`` gives config, clients, faults."""

    def __init__(self, svc):
        self.svc = svc
        self.oauth = OAuthStore(svc.store, SERVICE, svc.clock)

    def dispatch(self, request, what):
        if what == "authorize":
            return self.authorize(request)
        if what == "token" and request.method == "POST":
            return self.token(request)
        if what == "revocation" and request.method == "POST":
            return self.revocation(request)
        return _html("<h1>Not found</h1>", 404)

    # -- authorize -----------------------------------------------------------------------
    def client_problem(self, client_id, redirect_uri):
        if self.svc.clients.get(client_id) is None:
            return "unauthorized_client: unknown client_id"
        if not self.svc.clients.redirect_ok(client_id, redirect_uri):
            return "invalid_request: the redirect_uri is not registered for this client"
        return None

    def scope_problem(self, scope):
        words = scope.split()
        unknown = [w for w in words if w not in KNOWN_SCOPES]
        if unknown:
            return f"unknown scope {' '.join(unknown)}"
        if "ea:api" not in words:
            return "the scope ea:api is required"  # V4
        return None

    def authorize(self, request):
        values = request.form if request.method == "POST" else request.args
        client_id, redirect_uri = values.get("client_id"), values.get("redirect_uri") or ""
        state, scope = values.get("state") or "", values.get("scope") or ""
        problem = self.client_problem(client_id, redirect_uri)
        if problem:
            # An unknown client or redirect URI gets an error page, never a redirect.
            return _html(f"<h1>Error</h1><p>{escape(problem)}</p>", 400)
        if values.get("response_type") != "code":
            # V2: only the authorization-code flow
            return _redirect(
                _add_query(redirect_uri, error="unsupported_response_type", state=state)
            )
        problem = self.scope_problem(scope)
        if problem:
            return _redirect(_add_query(redirect_uri, error="invalid_scope", state=state))
        if request.method != "POST":
            return _html(self.consent_page(request.script_root + request.path, values))
        if values.get("consent") != "yes":
            return _redirect(_add_query(redirect_uri, error="access_denied", state=state))
        company = values.get("company") or ""
        if company not in seed.COMPANY_IDS:
            return _html(self.consent_page(request.script_root + request.path, values), 400)
        code = self.issue_code(client_id, redirect_uri, scope, company)
        return _redirect(_add_query(redirect_uri, code=code, state=state))

    def consent_page(self, action, values):
        # V5: the company is chosen at login; every company of the user is listed
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in values.items()
            if k not in ("consent", "company")
        )
        choices = "".join(
            f'<label><input type="radio" name="company" value="{c["Id"]}"'
            f"{' checked' if i == 0 else ''}> {escape(c['Name'])}</label><br>"
            for i, c in enumerate(seed.COMPANIES)
        )
        return (
            "<h1>Visma eAccounting</h1><p>Choose the company to give access to:</p>"
            f'<form method="post" action="{escape(action)}">{hidden}{choices}'
            '<button name="consent" value="yes">Allow</button> '
            '<button name="consent" value="no">Deny</button></form>'
        )

    def issue_code(self, client_id, redirect_uri, scope, company):
        return self.oauth.issue_code(
            client_id,
            redirect_uri,
            ttl=self.svc.config["code_lifetime"],
            scope=scope,
            company=company,
        )

    # -- token ---------------------------------------------------------------------------
    def basic_client(self, request):
        """V3: the client authenticates with HTTP Basic only (safest reading)."""
        form = request.form
        if form.get("client_secret"):
            return None
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return None
        if form.get("client_id") not in (None, auth.username):
            return None
        if not self.svc.clients.secret_ok(auth.username, auth.password):
            return None
        return auth.username

    def token(self, request):
        if "application/x-www-form-urlencoded" not in (request.content_type or ""):
            return _oauth_error("invalid_request", "the body must be form-encoded")  # V3
        client_id = self.basic_client(request)
        if client_id is None:
            return _oauth_error("invalid_client", "client authentication failed", 401)
        form = request.form
        grant_type = form.get("grant_type")
        with self.svc.lock:
            if grant_type == "authorization_code":
                rec = self.oauth.take_code(
                    form.get("code") or "", client_id, form.get("redirect_uri")
                )
                if rec is None or self.svc.faults.revoked:
                    return _oauth_error("invalid_grant", "invalid or expired code")
                return self.tokens(client_id, rec["grant"], None)
            if grant_type == "refresh_token":
                return self.refresh(client_id, form.get("refresh_token") or "")
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}")

    def refresh(self, client_id, refresh_token):
        rec = self.oauth.by_refresh(refresh_token)
        now = self.svc.clock.now()
        if (
            rec is None
            or rec["client_id"] != client_id
            or rec["refresh_used"]  # V8: single use, no grace window
            or rec.get("revoked")
            or self.svc.faults.revoked
            or (rec["refresh_expires_at"] or now + 1) <= now
        ):
            return _oauth_error("invalid_grant", "invalid_grant")
        rec["refresh_used"] = True
        self.oauth.save(rec)
        return self.tokens(client_id, rec["grant"], rec["family"])

    def tokens(self, client_id, grant, family):
        config = self.svc.config
        rec = self.oauth.issue_tokens(
            client_id,
            grant,
            config["access_token_lifetime"],
            config["refresh_token_lifetime"],
            family,
        )
        first = family is None
        if first:
            rec["refresh_absolute_expiry"] = rec["refresh_expires_at"]
        else:
            # V9 [I]: the lifetime is absolute from the first grant, rotation never extends it
            parent = self.oauth.latest_in_family(rec["family"])
            rec["refresh_expires_at"] = (parent or rec).get("refresh_absolute_expiry") or rec[
                "refresh_expires_at"
            ]
            rec["refresh_absolute_expiry"] = rec["refresh_expires_at"]
        self.oauth.save(rec)
        scope = grant.get("scope") or ""
        body = {
            "access_token": rec["access_token"],
            "expires_in": config["access_token_lifetime"],
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():  # V4: no refresh token without offline_access
            body["refresh_token"] = rec["refresh_token"]
        return Response(
            json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    # -- revocation ----------------------------------------------------------------------
    def revocation(self, request):
        client_id = self.basic_client(request)
        if client_id is None:
            return _oauth_error("invalid_client", "client authentication failed", 401)
        token = request.form.get("token") or ""
        with self.svc.lock:
            rec = self.oauth.by_refresh(token) or self.oauth.by_access(token)
            if rec is not None and rec["client_id"] == client_id:
                # V10 [I]: the whole grant ends, access tokens included (safest)
                for each in self.svc.store.all(SERVICE, "oauth_token"):
                    if each["family"] == rec["family"]:
                        each["revoked"] = True
                        self.oauth.save(each)
        return Response("", status=200)  # RFC 7009: 200 whether or not the token was known

    # -- API side ------------------------------------------------------------------------
    def grant_of(self, request):
        """The token record of an API request, or None when it must be refused (V12)."""
        header = request.headers.get("Authorization") or ""
        if header[:7].lower() != "bearer ":
            return None
        rec = self.oauth.by_access(header[7:].strip())
        if rec is None or rec.get("revoked"):
            return None
        if access_token_dead(rec, self.svc.clock.now(), self.svc.faults):
            return None
        return rec
