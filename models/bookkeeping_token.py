"""OAuth tokens of a link, in their own table.

Kept apart from ``bookkeeping.backend`` so that a token refresh committed on a side cursor
never collides with a worker that is writing the backend row in its own transaction.
"""

import time

from odoo import api, fields, models, modules, tools
from odoo.tools import SQL


class BookkeepingToken(models.Model):
    _name = "bookkeeping.token"
    _description = "Bookkeeping link token"
    _log_access = False

    backend_id = fields.Many2one("bookkeeping.backend", required=True, ondelete="cascade",
                                 index=True)
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
        cr.execute(SQL(
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
        ))
        self.invalidate_model()
