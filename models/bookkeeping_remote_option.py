"""Cached remote lists (VAT codes, journals, GL accounts, items, ...).

Loaded once from the remote package so that every choice on the link form is made from a
list, nobody types a GUID, and sending an invoice costs no look-up call.
"""

from collections import namedtuple

from odoo import api, fields, models

# A remote option as plain data, for caches that must outlive a commit.
OptionValue = namedtuple("OptionValue", "id kind code name percentage remote_type extra")

OPTION_KINDS = [
    ("administration", "Administration"),
    ("vat_code", "VAT code"),
    ("journal", "Journal"),
    ("gl_account", "Ledger account"),
    ("item", "Item / article"),
    ("payment_condition", "Payment condition"),
    ("country", "Country"),
    ("currency", "Currency"),
    ("unit", "Unit"),
]


class BookkeepingRemoteOption(models.Model):
    _name = "bookkeeping.remote.option"
    _description = "Remote list entry of a bookkeeping link"
    _order = "kind, code"
    _rec_names_search = ["code", "name"]

    backend_id = fields.Many2one("bookkeeping.backend", required=True, ondelete="cascade",
                                 index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(OPTION_KINDS, required=True, index=True)
    code = fields.Char(required=True, help="The remote key: a code, number or GUID.")
    name = fields.Char()
    percentage = fields.Float(digits=(16, 4), help="VAT rate in percent (21.0 for 21%).")
    remote_type = fields.Char(help="The remote type, e.g. the type of a journal or VAT code.")
    extra = fields.Json()
    active = fields.Boolean(default=True)

    _unique_code = models.Constraint(
        "unique(backend_id, kind, code)", "A remote entry is loaded only once per link.")

    @api.depends("code", "name", "percentage", "kind")
    def _compute_display_name(self):
        for option in self:
            label = f"{option.code} - {option.name}" if option.name else option.code
            if option.kind == "vat_code":
                label += f" ({option.percentage:g}%)"
            option.display_name = label

    def _as_value(self):
        self.ensure_one()
        return OptionValue(self.id, self.kind, self.code, self.name, self.percentage,
                           self.remote_type, self.extra or {})

    @api.model
    def _sync_kind(self, backend, kind, rows):
        """Replace the entries of ``kind`` by ``rows`` (dicts with code, name, ...): new
        ones are created, known ones updated, vanished ones archived (mappings keep them)."""
        existing = {
            o.code: o for o in self.with_context(active_test=False).search(
                [("backend_id", "=", backend.id), ("kind", "=", kind)])
        }
        to_create = []
        seen = set()
        for row in rows:
            code = str(row["code"]).strip()
            if not code or code in seen:
                continue
            seen.add(code)
            vals = {k: v for k, v in row.items() if k != "code"}
            vals["active"] = vals.get("active", True)
            if code in existing:
                existing[code].write(vals)
            else:
                to_create.append(dict(vals, backend_id=backend.id, kind=kind, code=code))
        self.create(to_create)
        gone = [o for code, o in existing.items() if code not in seen]
        if gone:
            self.browse([o.id for o in gone]).write({"active": False})
