"""OAuth tokens of a link, in their own table.

Kept apart from ``bookkeeping.backend`` so that a token refresh committed on a side cursor
never collides with a worker that is writing the backend row in its own transaction.
"""

import time
from contextlib import contextmanager

from odoo import api, fields, models, modules, tools
from odoo.tools import SQL


class BookkeepingToken(models.Model):
    _name = "bookkeeping.token"
    _description = "Bookkeeping link token"
    _log_access = False

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    access_token = fields.Char(groups="base.group_system")
    refresh_token = fields.Char(groups="base.group_system")
    expires_at = fields.Float("Expires at (epoch)", groups="base.group_system")
    obtained_at = fields.Float("Obtained at (epoch)", groups="base.group_system")
    refresh_obtained_at = fields.Datetime(groups="base.group_system")
    rate_limit_info = fields.Text(help="The API budget last seen, for the link form.")

    _unique_backend = models.Constraint("unique(backend_id)", "One token row per link.")

    @api.model
    def _can_side_commit(self):
        return not (tools.config["test_enable"] or modules.module.current_test)

    def _as_dict(self):
        self.ensure_one()
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
        }

    @api.model
    def _store(self, backend_id, token, cr):
        """Upsert the token pair with plain SQL on ``cr`` (possibly a side cursor)."""
        cr.execute(
            SQL(
                """INSERT INTO bookkeeping_token
                   (backend_id, access_token, refresh_token, expires_at, obtained_at,
                    refresh_obtained_at, company_id)
               SELECT %(backend)s, %(access)s, %(refresh)s, %(expires)s, %(obtained)s,
                      now() at time zone 'utc', b.company_id
                 FROM bookkeeping_backend b WHERE b.id = %(backend)s
               ON CONFLICT (backend_id) DO UPDATE SET
                   access_token = EXCLUDED.access_token,
                   refresh_token = EXCLUDED.refresh_token,
                   expires_at = EXCLUDED.expires_at,
                   obtained_at = EXCLUDED.obtained_at,
                   refresh_obtained_at = EXCLUDED.refresh_obtained_at""",
                backend=backend_id,
                access=token.get("access_token"),
                refresh=token.get("refresh_token"),
                expires=token.get("expires_at") or 0.0,
                obtained=token.get("obtained_at") or time.time(),
            )
        )
        self.invalidate_model()


class BackendTokenStore:
    """``clients.oauth.TokenStore`` on the database.

    The lock is a row lock on the ``bookkeeping_token`` row taken on a separate cursor in
    READ COMMITTED, so the token is re-read *after* the lock is granted (the other worker's
    refresh is visible), and the rotated pair is committed the moment it is saved: a
    crash of the caller's transaction can never lose a refresh token.
    """

    def __init__(self, backend):
        self.backend_id = backend.id
        self.env = backend.env
        self._latest = None
        self._cr = None

    def read(self):
        if self._latest:
            return dict(self._latest)
        # Cached for the run: a token rotated by another worker is re-read under the lock
        # whenever ours is due or refused.
        token = (
            self.env["bookkeeping.token"]
            .sudo()
            .search([("backend_id", "=", self.backend_id)], limit=1)
        )
        self._latest = token._as_dict() if token else None
        return dict(self._latest) if self._latest else None

    @contextmanager
    def locked(self):
        Token = self.env["bookkeeping.token"]
        if not Token._can_side_commit():
            # Tests: the test transaction cannot be committed; lock on it instead.
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM bookkeeping_token WHERE backend_id=%s FOR UPDATE",
                    self.backend_id,
                )
            )
            self._cr = self.env.cr
            try:
                yield self._read_on(self.env.cr)
            finally:
                self._cr = None
            return
        with self.env.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(
                SQL(
                    "SELECT id FROM bookkeeping_token WHERE backend_id=%s FOR UPDATE",
                    self.backend_id,
                )
            )
            self._cr = cr
            try:
                yield self._read_on(cr)
            finally:
                self._cr = None

    def _read_on(self, cr):
        cr.execute(
            SQL(
                "SELECT access_token, refresh_token, expires_at, obtained_at FROM bookkeeping_token"
                " WHERE backend_id=%s",
                self.backend_id,
            )
        )
        row = cr.fetchone()
        if not row:
            return None
        self._latest = dict(
            zip(("access_token", "refresh_token", "expires_at", "obtained_at"), row, strict=True)
        )
        return dict(self._latest)

    def save(self, token):
        cr = self._cr or self.env.cr
        self.env["bookkeeping.token"].sudo()._store(self.backend_id, token, cr)
        if cr is not self.env.cr:
            cr.commit()  # pylint: disable=invalid-commit
            self.env["bookkeeping.token"].invalidate_model()
        self._latest = dict(token)
