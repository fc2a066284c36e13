"""OAuth callback: the remote package redirects the browser here with the code."""

import logging

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..clients.errors import BookkeepingError

_logger = logging.getLogger(__name__)


class BookkeepingOAuthController(http.Controller):
    @http.route("/bookkeeping_link/oauth/callback", type="http", auth="user")
    def oauth_callback(self, code=None, state=None, error=None, error_description=None, **kw):
        backend = request.env["bookkeeping.backend"]._backend_from_oauth_state(state or "")
        if not backend:
            _logger.warning("Bookkeeping link: OAuth callback with a bad state")
            raise Forbidden()
        # The signed state names the link; the user must still be allowed to manage it.
        backend = backend.with_user(request.env.user)
        if (
            not request.env.user.has_group("account_bookkeeping_link.group_bookkeeping_manager")
            or backend.company_id not in request.env.user.company_ids
        ):
            raise Forbidden()
        backend = backend.sudo()
        if error or not code:
            return self._error(backend, error_description or error or "no code received")
        in_setup = backend.setup_step != "done"
        try:
            backend._finish_oauth(code)
        except (BookkeepingError, UserError) as exc:
            return self._error(backend, str(exc))
        # "Connected to <administration>" on the form the manager comes back to.
        backend._after_connect_message()
        return request.redirect(backend._setup_url() if in_setup else self._backend_url(backend))

    def _error(self, backend, message):
        return request.render(
            "account_bookkeeping_link.oauth_error",
            {
                "error": message,
                "redirect_url": self._backend_url(backend),
            },
        )

    def _backend_url(self, backend):
        return f"/odoo/bookkeeping-links/{backend.id}"
