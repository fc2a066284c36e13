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

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(OPTION_KINDS, required=True, index=True)
    code = fields.Char(required=True, help="The remote key: a code, number or GUID.")
    name = fields.Char()
    percentage = fields.Float(digits=(16, 4), help="VAT rate in percent (21.0 for 21%).")
    remote_type = fields.Char(help="The remote type, e.g. the type of a journal or VAT code.")
    extra = fields.Json()
    active = fields.Boolean(default=True)
    # Readable lists and drop-downs that offer only what fits (the service says which).
    type_label = fields.Char("Type", compute="_compute_type_label")
    is_income = fields.Boolean(
        "Income account",
        compute="_compute_is_income",
        store=True,
        help="A revenue ledger account: only these are offered for Odoo's income accounts.",
    )
    vat_scope = fields.Selection(
        [
            ("domestic", "Domestic"),
            ("eu", "Within the EU"),
            ("export", "Outside the EU"),
            ("reverse_charge", "Reverse charge"),
        ],
        "Applies to",
        compute="_compute_vat_scope",
        help="Where the VAT code applies; a 0% tax gets the code of its own kind.",
    )

    _unique_code = models.Constraint(
        "unique(backend_id, kind, code)", "A remote entry is loaded only once per link."
    )

    @api.depends("code", "name", "percentage", "kind")
    def _compute_display_name(self):
        for option in self:
            label = f"{option.code} - {option.name}" if option.name else option.code
            if option.kind == "vat_code":
                label += f" ({option.percentage:g}%)"
            option.display_name = label

    def _compute_type_label(self):
        for option in self:
            option.type_label = (
                option.backend_id._service_option_type_label(option) or False
                if option.remote_type and option.backend_id.service
                else False
            )

    @api.depends("kind", "remote_type", "extra", "backend_id.service")
    def _compute_is_income(self):
        for option in self:
            option.is_income = bool(
                option.kind == "gl_account"
                and option.backend_id.service
                and option.backend_id._service_option_is_income(option)
            )

    @api.depends("kind", "name", "remote_type", "extra", "backend_id.service")
    def _compute_vat_scope(self):
        for option in self:
            option.vat_scope = (
                option.backend_id._service_vat_code_scope(option) or False
                if option.kind == "vat_code" and option.backend_id.service
                else False
            )

    @api.model
    def _kind_plurals(self):
        """The lists in words, for 'Loaded: 5 VAT codes, 4 journals, ...'."""
        _ = self.env._
        plurals = {
            "administration": _("administrations"),
            "vat_code": _("VAT codes"),
            "journal": _("journals"),
            "gl_account": _("ledger accounts"),
            "item": _("items"),
            "payment_condition": _("payment conditions"),
            "country": _("countries"),
            "currency": _("currencies"),
        }
        # Lists a service adds: their selection label.
        for kind, label in self._fields["kind"]._description_selection(self.env):
            plurals.setdefault(kind, label.lower())
        return plurals

    def _as_value(self):
        self.ensure_one()
        return OptionValue(
            self.id,
            self.kind,
            self.code,
            self.name,
            self.percentage,
            self.remote_type,
            self.extra or {},
        )

    @api.model
    def _sync_kind(self, backend, kind, rows):
        """Replace the entries of ``kind`` by ``rows`` (dicts with code, name, ...): new
        ones are created, known ones updated, vanished ones archived (mappings keep them)."""
        existing = {
            o.code: o
            for o in self.with_context(active_test=False).search(
                [("backend_id", "=", backend.id), ("kind", "=", kind)]
            )
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
