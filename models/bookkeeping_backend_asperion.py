"""Asperion service of the bookkeeping link.

Overrides the ``_service_<hook>`` methods declared in ``bookkeeping_service_contract.py``
(see doc/contracts.md). Two invoice modes:

* ``remote``: an Asperion draft (``draftsalesinvoiceswithlines``) in one call; Asperion
  numbers it when the user finalises it; the number comes back by bulk sync.
* ``odoo``: a final sales invoice (``salesinvoiceswithlines``) with Odoo's number, amounts
  and VAT equal to Odoo's to the cent, the PDF attached.

Our key everywhere is ``move.name`` in ``description`` (and ``invoiceNumber`` in odoo mode):
every look-up before a retry and the number sync use it, so nothing is ever created twice.
"""

import logging
from decimal import ROUND_HALF_UP, Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_is_zero

from ..clients import errors as client_errors
from ..clients.asperion import (
    MAX_FILE_BYTES,
    PATHS,
    PRODUCTION,
    SANDBOX,
    AsperionClient,
    draft_invoice,
    draft_line,
)
from ..clients.oauth import MemoryTokenStore

_logger = logging.getLogger(__name__)

ENVIRONMENTS = {"sandbox": SANDBOX, "production": PRODUCTION}
# Status codes of final sales invoices (asperion.md §5).
INVOICE_STATUS = {
    1: "draft",
    2: "in_journal",
    3: "booked",
    6: "payable",
    7: "paid",
    8: "on_hold",
}
CENT = Decimal("0.01")
# Lines of a draft booked on their own ledger account ("G"), whatever the line type.
ASPERION_OWN_LEDGER_KINDS = ("cash_rounding", "discount")
SYNC_FIELDS = "id,invoiceNumber,description,status,amountInclVat,date"
# Debtor fields Asperion keeps itself: never part of a PUT body.
DEBTOR_READ_ONLY = ("id", "_meta", "dateAdded", "dateLastChange")


def _money(value):
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _int_or_str(code):
    """Asperion ids are ints for ledger accounts, sales types, conditions, debtors; strings
    for VAT codes, debtor kinds and journals. Codes are stored as text in the options."""
    code = str(code or "").strip()
    return int(code) if code.isdigit() else code


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    service = fields.Selection(
        selection_add=[("asperion", "Asperion")], ondelete={"asperion": "cascade"}
    )

    asperion_environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        "Asperion environment",
        default="production",
    )
    asperion_identity_url = fields.Char(
        "Asperion identity URL",
        compute="_compute_asperion_urls",
        store=True,
        readonly=False,
        help="Login and token server (IdentityServer). Filled from the environment; change "
        "it only for a test server.",
    )
    asperion_api_url = fields.Char(
        "Asperion API URL",
        compute="_compute_asperion_urls",
        store=True,
        readonly=False,
        help="REST API base (paths start with /v1/). Filled from the environment.",
    )
    asperion_administration_option_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Asperion administration",
        compute="_compute_asperion_administration_option_id",
        inverse="_inverse_asperion_administration_option_id",
        domain="[('backend_id', '=', id), ('kind', '=', 'administration')]",
        help="The administration (tenant) every call goes to. Load the lists to choose.",
    )
    asperion_line_type = fields.Selection(
        [("A", "Article"), ("V", "Sales type"), ("G", "Ledger account")],
        "Book lines on",
        default="V",
        help="How draft invoice lines are booked in Asperion: on one article, on one sales "
        "type, or on the ledger account mapped to the Odoo income account.",
    )
    asperion_article_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default article",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'item')]",
    )
    asperion_sales_type_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default sales type",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'sales_type')]",
    )
    asperion_debtor_kind_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Debtor kind for new customers",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'debtor_kind')]",
        help="Asperion requires a debtor kind on every debtor; it sets the receivable account.",
    )
    asperion_payment_condition_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default payment condition",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'payment_condition')]",
        help="Used when the invoice's payment term has no mapping.",
    )
    asperion_journal_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Asperion sales journal",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'journal')]",
        help="Journal of invoices booked with Odoo's number (empty: Asperion's default).",
    )

    @api.depends("asperion_environment")
    def _compute_asperion_urls(self):
        for backend in self:
            urls = ENVIRONMENTS.get(backend.asperion_environment or "production")
            backend.asperion_identity_url = urls["identity"]
            backend.asperion_api_url = urls["api"]

    @api.depends("administration_code", "option_ids")
    def _compute_asperion_administration_option_id(self):
        for backend in self:
            backend.asperion_administration_option_id = (
                backend._remote_option("administration", backend.administration_code)
                if backend.administration_code
                else False
            )

    def _inverse_asperion_administration_option_id(self):
        for backend in self:
            option = backend.asperion_administration_option_id
            if not option or option.code == backend.administration_code:
                continue
            if backend.administration_code and self.env["account.move"].search_count(
                [
                    ("bookkeeping_backend_id", "=", backend.id),
                    ("bookkeeping_remote_id", "!=", False),
                ],
                limit=1,
            ):
                # Debtor ids, drafts and numbers belong to the old administration.
                raise UserError(
                    self.env._(
                        "Invoices were already sent to administration %(name)s. Archive this "
                        "link and create a new one for another administration.",
                        name=backend.administration_name or backend.administration_code,
                    )
                )
            backend.write({"administration_code": option.code, "administration_name": option.name})

    # ------------------------------------------------------------------ client

    def _asperion_oauth(self, token_store=None):
        backend = self.sudo()
        if not backend.client_id or not backend.client_secret:
            raise UserError(self.env._("Enter the Asperion client ID and client secret first."))
        return AsperionClient.make_oauth(
            backend.asperion_identity_url,
            backend.client_id,
            backend.client_secret,
            token_store or self._token_store(),
        )

    def _service_make_client(self, on_call=None, administration=True, **options):
        """A client for the chosen administration (``administration=False``: no tenant
        header, for listing the administrations before one is chosen)."""
        if self.service != "asperion":
            return super()._service_make_client(
                on_call=on_call, administration=administration, **options
            )
        self.ensure_one()
        admin = self.administration_code if administration else None
        client = AsperionClient(
            self.asperion_api_url,
            admin,
            self._asperion_oauth(),
            limiter=self._rate_limiter(("asperion", self.asperion_api_url.rstrip("/"), str(admin))),
            on_call=on_call,
            language="nl-NL" if (self.env.lang or "").startswith("nl") else "en-US",
        )
        return client

    def _service_authorization_url(self, state, redirect_uri):
        if self.service != "asperion":
            return super()._service_authorization_url(state, redirect_uri)
        return self._asperion_oauth().authorization_url(
            redirect_uri, state, scope="openid offline_access api"
        )

    def _service_exchange_code(self, code, redirect_uri):
        # Exchange only: the core stores the pair on the callback's own transaction.
        if self.service != "asperion":
            return super()._service_exchange_code(code, redirect_uri)
        return self._asperion_oauth(MemoryTokenStore()).fetch_token(code, redirect_uri)

    def _service_refresh_token(self):
        if self.service != "asperion":
            return super()._service_refresh_token()
        # Through a session: the token call reaches the call log, as every other call.
        with self._session(administration=False) as client:
            client.oauth.refresh(force=True)

    def _service_after_connect(self):
        """Load the administrations; when the user reaches only one, choose it."""
        if self.service != "asperion":
            return super()._service_after_connect()
        with self._session(administration=False) as client:
            rows = client.administrations()
        self.env["bookkeeping.remote.option"]._sync_kind(
            self,
            "administration",
            [{"code": str(row["id"]), "name": row.get("name"), "extra": row} for row in rows],
        )
        if not self.administration_code and len(rows) == 1:
            self.write(
                {
                    "administration_code": str(rows[0]["id"]),
                    "administration_name": rows[0].get("name"),
                }
            )

    def _service_capabilities(self):
        if self.service != "asperion":
            return super()._service_capabilities()
        return frozenset({"push", "partners", "oauth", "collective"})

    def _service_test_connection(self):
        if self.service != "asperion":
            return super()._service_test_connection()
        if not self.administration_code:
            raise UserError(self.env._("Choose the Asperion administration first."))
        with self._session() as client:
            # A tenant call: its _meta names the administration the header selected.
            body = client.get_json(client.url(PATHS["payment_conditions"]), params={"pageSize": 1})
        meta = (body or {}).get("_meta") or {}
        return self.env._(
            "Connected to Asperion administration %(name)s (%(id)s) as %(profile)s.",
            name=meta.get("administrationName") or self.administration_name,
            id=meta.get("administrationId") or self.administration_code,
            profile=meta.get("profileName") or "-",
        )

    # ------------------------------------------------------------------ lists

    def _service_load_options(self):
        if self.service != "asperion":
            return super()._service_load_options()
        Option = self.env["bookkeeping.remote.option"]
        with self._session(administration=False) as list_client:
            admins = list_client.administrations()
        Option._sync_kind(
            self,
            "administration",
            [{"code": str(r["id"]), "name": r.get("name"), "extra": r} for r in admins],
        )
        if not self.administration_code:
            if len(admins) != 1:
                return  # the manager chooses first; the other lists belong to it
            self.write(
                {
                    "administration_code": str(admins[0]["id"]),
                    "administration_name": admins[0].get("name"),
                }
            )
        with self._session() as client:
            # A refused administration (403) reaches the button as it is: it marks the
            # link in error and tells which administration, without undoing that.
            self._asperion_load_tenant_options(client)

    def _asperion_load_tenant_options(self, client):
        Option = self.env["bookkeeping.remote.option"]
        Option._sync_kind(
            self,
            "vat_code",
            [
                {
                    "code": r["id"],
                    "name": r.get("description"),
                    "percentage": r.get("percentage") or 0.0,
                    "remote_type": r.get("countryCode") or False,
                    "active": not r.get("validUntil"),
                    "extra": r,
                }
                for r in client.vat_codes(sales=True)
                if r.get("salesCode", True)
            ],
        )
        Option._sync_kind(
            self,
            "gl_account",
            [
                {
                    "code": r["id"],
                    "name": r.get("description"),
                    "remote_type": str(r.get("type")),
                    "active": not r.get("disabled"),
                    "extra": r,
                }
                for r in client.ledger_accounts()
            ],
        )
        Option._sync_kind(
            self,
            "item",
            [
                {
                    "code": r.get("sku") or r["id"],
                    "name": r.get("description"),
                    "active": r.get("active", True),
                    "extra": r,
                }
                for r in client.articles()
            ],
        )
        # Lists whose rows are just an id and a description.
        for kind, rows in (
            ("sales_type", client.sales_types()),
            ("debtor_kind", client.debtor_kinds()),
            ("payment_condition", client.payment_conditions()),
        ):
            Option._sync_kind(
                self,
                kind,
                [{"code": r["id"], "name": r.get("description"), "extra": r} for r in rows],
            )
        Option._sync_kind(
            self,
            "journal",
            [
                {
                    "code": r["id"],
                    "name": r.get("description"),
                    "remote_type": r.get("type"),
                    "extra": r,
                }
                for r in client.journals()
            ],
        )
        Option._sync_kind(
            self,
            "country",
            [
                {
                    "code": (r.get("code") or r["id"]).upper(),
                    "name": r.get("description"),
                    "extra": r,
                }
                for r in client.countries()
            ],
        )
        self._asperion_suggest_defaults()

    # ------------------------------------------------------------------ the screens

    def _service_vat_code_scope(self, option):
        # A sales code with the administration's country is domestic unless its words say
        # reverse charge; codes without a country say their scope only in words.
        if self.service != "asperion":
            return super()._service_vat_code_scope(option)
        scope = self._scope_from_words(option.name)
        if scope:
            return scope
        return "domestic" if option.remote_type else False

    def _service_option_is_income(self, option):
        # Ledger account type 2 is revenue ([I] in asperion.md); the RGS code says it too.
        if self.service != "asperion":
            return super()._service_option_is_income(option)
        extra = option.extra or {}
        return option.remote_type == "2" or str(extra.get("rcsfi") or "").startswith("WOmz")

    def _service_option_type_label(self, option):
        if self.service != "asperion":
            return super()._service_option_type_label(option)
        _ = self.env._
        if option.kind == "vat_code":
            country = self.env["res.country"].search(
                [("code", "=", (option.remote_type or "").upper())], limit=1
            )
            return country.name or option.remote_type
        labels = {
            "journal": {
                "V": _("Sales journal"),
                "I": _("Purchase journal"),
                "K": _("Cash"),
                "B": _("Bank"),
                "M": _("General journal"),
            },
            "gl_account": {"1": _("Balance sheet"), "2": _("Revenue"), "3": _("Costs")},
        }
        return labels.get(option.kind, {}).get(option.remote_type) or option.remote_type

    def _service_suggest_defaults(self):
        if self.service != "asperion":
            return super()._service_suggest_defaults()
        self._asperion_suggest_defaults()

    def _service_setup_check(self):
        if self.service != "asperion":
            return super()._service_setup_check()
        missing = []
        if not self.administration_code:
            return [self.env._("Choose the Asperion administration.")]
        if self.invoice_mode == "remote":
            if self.asperion_line_type == "A" and not self.asperion_article_id:
                missing.append(self.env._("Choose the default Asperion article."))
            if self.asperion_line_type == "V" and not self.asperion_sales_type_id:
                missing.append(self.env._("Choose the default Asperion sales type."))
        if self.auto_create_partner and not self.asperion_debtor_kind_id:
            missing.append(
                self.env._("Choose the debtor kind for new customers (Asperion requires one).")
            )
        return missing

    def _asperion_suggest_defaults(self):
        """Fill empty defaults when the choice is obvious, so a fresh link works at once."""
        vals = {}
        for field, kind in (
            ("asperion_debtor_kind_id", "debtor_kind"),
            ("asperion_sales_type_id", "sales_type"),
            ("asperion_article_id", "item"),
            ("asperion_payment_condition_id", "payment_condition"),
        ):
            options = self.option_ids.filtered(lambda o, k=kind: o.kind == k and o.active)
            if not self[field] and len(options) == 1:
                vals[field] = options.id
        if not self.asperion_debtor_kind_id and "asperion_debtor_kind_id" not in vals:
            # Several kinds: the one on the first debtors account (the domestic one).
            kinds = self.option_ids.filtered(lambda o: o.kind == "debtor_kind" and o.active)
            kinds = kinds.sorted(lambda o: (o.extra or {}).get("ledgerAccountId") or 10**9)
            if kinds:
                vals["asperion_debtor_kind_id"] = kinds[0].id
        if not self.asperion_sales_type_id and "asperion_sales_type_id" not in vals:
            # Several sales types: the one booked with the default sales VAT code.
            default_vat = self.option_ids.filtered(
                lambda o: o.kind == "vat_code" and (o.extra or {}).get("isDefault")
            )[:1]
            types = self.option_ids.filtered(
                lambda o: (
                    o.kind == "sales_type"
                    and o.active
                    and default_vat
                    and (o.extra or {}).get("vatCode") == default_vat.code
                )
            )
            if types:
                vals["asperion_sales_type_id"] = types[0].id
        if not self.asperion_journal_id:
            sales = self.option_ids.filtered(
                lambda o: o.kind == "journal" and o.remote_type == "V" and o.active
            )
            if len(sales) == 1:
                vals["asperion_journal_id"] = sales.id
        if vals:
            self.write(vals)

    # ------------------------------------------------------------------ checks

    def _asperion_invoice_lines(self, move):
        return move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product")

    def _service_check_move(self, move):
        """Everything Asperion would refuse, found before any call."""
        if self.service != "asperion":
            return super()._service_check_move(move)
        errors = []
        if not self.administration_code:
            errors.append(self.env._("Choose the Asperion administration on the link first."))
        if move.currency_id != move.company_id.currency_id:
            errors.append(
                self.env._(
                    "Asperion books in the administration's currency %(cur)s; this invoice is "
                    "in %(move_cur)s.",
                    cur=move.company_id.currency_id.name,
                    move_cur=move.currency_id.name,
                )
            )
        lines = self._asperion_invoice_lines(move)
        if not lines:
            errors.append(self.env._("The invoice has no lines to book."))
        mode, kind = self.invoice_mode, self.asperion_line_type
        if mode == "remote" and kind == "A" and not self.asperion_article_id:
            errors.append(
                self.env._(
                    "Choose the default Asperion article on the link (lines are "
                    "booked on an article)."
                )
            )
        if mode == "remote" and kind == "V" and not self.asperion_sales_type_id:
            errors.append(
                self.env._(
                    "Choose the default Asperion sales type on the link (lines are "
                    "booked on a sales type)."
                )
            )
        need_ledger = mode == "odoo" or kind == "G"
        missing_tax, missing_account, multi_tax = set(), set(), set()
        for line in lines:
            taxes = line.tax_ids
            if len(taxes) != 1:
                multi_tax.add(line.name or line.product_id.display_name or "")
            elif not self._mapped_option("tax", taxes):
                missing_tax.add(taxes.display_name)
            if need_ledger and not self._mapped_option("account", line.account_id):
                missing_account.add(line.account_id.display_name)
        if multi_tax:
            errors.append(
                self.env._(
                    "Asperion needs exactly one VAT code per line; these lines have none or "
                    "several taxes: %(lines)s",
                    lines=", ".join(sorted(multi_tax)),
                )
            )
        if missing_tax:
            errors.append(
                self.env._(
                    "Map these taxes to an Asperion VAT code on the link: %(taxes)s",
                    taxes=", ".join(sorted(missing_tax)),
                )
            )
        if missing_account:
            errors.append(
                self.env._(
                    "Map these income accounts to an Asperion ledger account on the link: "
                    "%(accounts)s",
                    accounts=", ".join(sorted(missing_account)),
                )
            )
        # Cash rounding, early payment discount and discount lines: sent like the others,
        # on their own ledger account where product lines go on one.
        errors += self._document_errors(
            move._bookkeeping_document(),
            lambda line: need_ledger or line["kind"] in ASPERION_OWN_LEDGER_KINDS,
        )
        if mode == "remote" and not errors:
            errors += self._asperion_draft_pricing_errors(move)
        partner = move.partner_id.commercial_partner_id
        if not self._partner_remote_id(partner):
            errors += self._asperion_check_partner(partner)
        return errors

    def _asperion_draft_pricing_errors(self, move):
        """A draft is priced by Asperion: VAT per line, rounded half up (asperion.md §4:
        the draft totals are read-only). When Odoo rounds the VAT globally, the two can
        differ by cents; such a draft is not made, the invoice says how to send it."""
        document = move._bookkeeping_document()
        vat = Decimal(0)
        for line in document["lines"]:
            code = self._document_vat_code(line)
            rate = Decimal(str(self._remote_option("vat_code", code).percentage or 0.0))
            vat += (_money(line["amount"]) * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        excl = sum((_money(line["amount"]) for line in document["lines"]), Decimal(0))
        remote, odoo = abs(excl + vat), abs(_money(document["total"]))
        if remote == odoo:
            return []
        return [
            self.env._(
                "Asperion computes the VAT of a draft per line: this invoice would total "
                "%(remote)s there and %(odoo)s in Odoo, which rounds the VAT over the whole "
                "invoice. Send it with 'Odoo numbers the invoice' on the link (Odoo's amounts "
                "are booked as they are), or set the tax rounding to 'Round per line' in the "
                "Invoicing settings for new invoices.",
                remote=f"{remote:.2f}",
                odoo=f"{odoo:.2f}",
            )
        ]

    def _asperion_check_partner(self, partner):
        """What creating the debtor needs (checked before any call)."""
        errors = []
        if not self.asperion_debtor_kind_id:
            errors.append(
                self.env._(
                    "Choose the debtor kind for new customers on the link: Asperion needs it to "
                    "create %(partner)s.",
                    partner=partner.display_name,
                )
            )
        country = partner.country_id.code
        countries = self.option_ids.filtered(lambda o: o.kind == "country")
        if country and not countries:
            errors.append(self.env._("Load the Asperion lists on the link first (countries)."))
        elif country and country.upper() not in countries.mapped("code"):
            errors.append(
                self.env._(
                    "Asperion does not support the country %(country)s of %(partner)s.",
                    country=partner.country_id.name,
                    partner=partner.display_name,
                )
            )
        return errors

    # ------------------------------------------------------------------ invoices

    def _asperion_payment_condition(self, move):
        option = (
            self._mapped_option("payment_term", move.invoice_payment_term_id)
            if move.invoice_payment_term_id
            else None
        )
        option = option or self.asperion_payment_condition_id
        return _int_or_str(option.code) if option else None

    def _asperion_date(self, move):
        return f"{move.invoice_date or move.date}T00:00:00"

    def _asperion_draft_vals(self, move, debtor_id, document):
        """A draft: Asperion prices its lines itself (quantity x price, VAT per line); the
        cash rounding and discount lines go as ledger lines ("G") on their mapped account."""
        by_line = {line["line"].id: line for line in document["lines"]}
        lines = []
        for aml in move.invoice_line_ids.sorted("sequence"):
            if aml.display_type in ("line_section", "line_subsection", "line_note"):
                if self.note_lines == "text" and aml.name:
                    lines.append(draft_line("T", aml.name[:250]))
            elif aml.id in by_line:
                lines.append(self._asperion_draft_line(by_line[aml.id], document["sign"]))
        lines += [
            self._asperion_draft_line(line, document["sign"])
            for line in document["lines"]
            if line["kind"] != "product"
        ]
        extra = {"reference": move.name}
        condition = self._asperion_payment_condition(move)
        if condition:
            extra["paymentConditionId"] = condition
        return draft_invoice(int(debtor_id), self._asperion_date(move), move.name, lines, **extra)

    def _asperion_draft_line(self, line, sign):
        kind = self.asperion_line_type
        if line["kind"] in ASPERION_OWN_LEDGER_KINDS:
            kind = "G"
        quantity = (line["quantity"] or 1.0) if line["kind"] == "product" else 1.0
        target = {}
        if kind == "A":
            target["article"] = self.asperion_article_id.code
        elif kind == "V":
            target["sales_type"] = _int_or_str(self.asperion_sales_type_id.code)
        else:
            target["ledger_account"] = _int_or_str(
                self._mapped_option("account", line["account"]).code
            )
        # Credit notes: positive quantities, negative prices.
        return draft_line(
            kind,
            (line["name"] or "")[:250],
            quantity=quantity,
            price=round(line["amount"] / quantity, 6),
            vat_code=self._document_vat_code(line),
            **target,
        )

    def _asperion_invoice_vals(self, move, debtor_id, document):
        """A final invoice: every line with Odoo's amount and VAT (which sum per tax to
        Odoo's tax lines), so every total equals Odoo's to the cent."""
        lines = [
            {
                "description": (line["name"] or "")[:250],
                "amount": float(_money(line["amount"])),
                "vatAmount": float(_money(line["vat"])),
                "vatCode": self._document_vat_code(line),
                "ledgerAccountId": _int_or_str(
                    self._mapped_option("account", line["account"]).code
                ),
            }
            for line in document["lines"]
        ]
        vals = {
            "invoiceNumber": move.name,
            "date": self._asperion_date(move),
            "description": move.name,
            "reference": move.ref or move.payment_reference or move.name,
            "debtorId": int(debtor_id),
            "lines": {"_data": lines},
        }
        if move.invoice_date_due:
            vals["paymentDueDate"] = f"{move.invoice_date_due}T00:00:00"
        condition = self._asperion_payment_condition(move)
        if condition:
            vals["paymentConditionId"] = condition
        if self.asperion_journal_id:
            vals["journalId"] = self.asperion_journal_id.code
        return vals

    def _service_push_move(self, client, move):
        if self.service != "asperion":
            return super()._service_push_move(client, move)
        debtor_id = self._ensure_remote_partner(client, move.partner_id)
        client.bookkeeping_log.record = move
        document = move._bookkeeping_document()
        if self.invoice_mode == "remote":
            draft = client.create_draft_invoice(
                self._asperion_draft_vals(move, debtor_id, document)
            )
            move._bookkeeping_write({"bookkeeping_remote_id": str(draft["id"])})
            if draft.get("amountInclVat") is None:
                # The answer may carry only the id: read the totals once, so the check runs.
                draft = client.draft_invoice(draft["id"]) or draft
            return self._asperion_draft_result(move, draft, document)
        invoice = client.create_sales_invoice(
            self._asperion_invoice_vals(move, debtor_id, document)
        )
        # The booking exists now: keep its id even if the upload below fails. (A crash
        # needs no extra commit: the invoice stays 'sending' and is looked up first.)
        move._bookkeeping_write({"bookkeeping_remote_id": str(invoice["id"])})
        return self._asperion_final_result(client, move, invoice, upload=True, document=document)

    def _asperion_draft_result(self, move, draft, document=None):
        # Asperion computes the draft itself; say so before it is finalised.
        self._asperion_check_total(
            move,
            draft.get("amountInclVat"),
            document,
            lambda remote, odoo: self.env._(
                "The Asperion draft %(draft)s totals %(remote)s while Odoo's total is "
                "%(odoo)s. Correct the draft in Asperion before finalising it (check the VAT "
                "codes).",
                draft=draft["id"],
                remote=remote,
                odoo=odoo,
            ),
        )
        return {
            "remote_id": str(draft["id"]),
            "remote_ref": str(draft["id"]),
            "state": "sent_draft",
            "remote_status": "draft",
            "remote_amount": draft.get("amountInclVat"),
        }

    def _asperion_check_total(self, move, total, document, message):
        """Flag the invoice when Asperion's total differs from Odoo's; ``message(remote,
        odoo)`` says so in words."""
        document = document or move._bookkeeping_document()
        expected = _money(document["total"])
        if total is not None and _money(total) != expected:
            self._flag_remote_total(move, message(total, float(expected)))

    def _asperion_final_result(self, client, move, invoice, upload=False, document=None):
        total = invoice.get("amountInclVat")
        # Booked already: the booking stands, a difference is flagged on the invoice.
        self._asperion_check_total(
            move,
            total,
            document,
            lambda remote, odoo: self.env._(
                "Asperion booked %(number)s with a total of %(remote)s while Odoo's total is "
                "%(odoo)s. Correct the booking in Asperion (check the VAT codes of the lines).",
                number=invoice.get("invoiceNumber") or invoice["id"],
                remote=remote,
                odoo=odoo,
            ),
        )
        if upload and self.attach_pdf:
            self._service_attach_pdf(client, move, invoice_id=invoice["id"])
        status = invoice.get("status")
        return {
            "remote_id": str(invoice["id"]),
            "state": "done",
            "remote_number": invoice.get("invoiceNumber"),
            "remote_status": INVOICE_STATUS.get(status, "other") if status else False,
            "remote_amount": total,
            "remote_payment_state": "paid" if status == 7 else "open",
        }

    def _service_attach_pdf(self, client, move, invoice_id=None, **options):
        """Attach the PDF to the booked invoice (also hook ``attach_pdf``: a later run for
        a PDF that could not be made at booking time). The booking always stands: a PDF
        that cannot be made now is flagged 'to attach', one Asperion refuses 'not
        attached'."""
        if self.service != "asperion":
            return super()._service_attach_pdf(client, move, invoice_id=invoice_id, **options)
        invoice_id = invoice_id or move.bookkeeping_remote_id
        pdf = self._invoice_pdf(move)
        if not pdf:
            return
        filename, content = pdf
        if len(content) > MAX_FILE_BYTES:
            message = self.env._(
                "The invoice was booked in Asperion without its PDF: the PDF %(file)s is "
                "%(size).1f MB and Asperion accepts at most 5 MB. Attach a smaller file "
                "in Asperion by hand.",
                file=filename,
                size=len(content) / 1024 / 1024,
            )
            move._message_log(body=message)
            move._bookkeeping_pdf_done("failed", message)
            client.bookkeeping_log(
                {
                    "method": "POST",
                    "path": "(not sent) file upload",
                    "status": 0,
                    "outcome": "error",
                    "message": message,
                }
            )
            return
        try:
            client.upload_sales_invoice_file(invoice_id, filename, content)
        except client_errors.BookkeepingError as error:
            if isinstance(
                error,
                client_errors.AuthExpired | client_errors.AccessDenied | client_errors.RateLimited,
            ):
                raise
            message = self.env._(
                "The invoice was booked in Asperion but its PDF could not be attached: %(msg)s",
                msg=error,
            )
            if isinstance(error, client_errors.ValidationError):
                move._message_log(body=message)
                move._bookkeeping_pdf_done("failed", message)
            else:
                move._bookkeeping_pdf_pending(message)  # a later run tries again
            return
        if move.bookkeeping_pdf_state == "pending":
            move._message_log(body=self.env._("The invoice PDF was attached in Asperion."))
        move._bookkeeping_pdf_done("attached")

    def _service_find_move(self, client, move):
        """Look the invoice up by our reference (before a retry after an unknown outcome)."""
        if self.service != "asperion":
            return super()._service_find_move(client, move)
        client.bookkeeping_log.record = move
        if self.invoice_mode == "odoo":
            for invoice in client.sales_invoices(
                InvoiceNumber=move.name, InvoiceNumber_comparison="Equals"
            ):
                if invoice.get("invoiceNumber") == move.name:
                    # The create answer was lost, so was the upload that follows it.
                    return self._asperion_final_result(client, move, invoice, upload=True)
            return None
        exact = {"Description": move.name, "Description_comparison": "Equals"}
        for draft in client.draft_invoices(**exact):
            if draft.get("description") == move.name:
                return self._asperion_draft_result(move, draft)
        # Finalised in Asperion since the lost attempt: the draft is gone, the final has it.
        for invoice in client.sales_invoices(**exact):
            if invoice.get("description") == move.name:
                return self._asperion_final_result(client, move, invoice)
        return None

    # ------------------------------------------------------------------ collective booking
    # A collective entry is a final sales invoice (salesinvoiceswithlines, booked elsewhere)
    # on the default debtor, with our reference as its invoiceNumber: found back by the
    # confirmed InvoiceNumber filter, refused by Asperion as a duplicate.

    def _service_collective_customer(self, client, code):
        if self.service != "asperion":
            return super()._service_collective_customer(client, code)
        rows = [
            r
            for r in client.debtors(CustomerNumber=code, CustomerNumber_comparison="Equals")
            if str(r.get("customerNumber") or "").strip() == code
        ]
        return str(rows[0]["id"]) if len(rows) == 1 else None

    def _service_check_collective_move(self, move, document):
        if self.service != "asperion":
            return super()._service_check_collective_move(move, document)
        errors = []
        if not self.administration_code:
            errors.append(self.env._("Choose the Asperion administration on the link first."))
        return errors + self._document_errors(document, lambda line: True, products=True)

    def _asperion_collective_lines(self, entry):
        """Odoo's summed amounts with their VAT, never recomputed (Asperion would round VAT
        per line)."""
        return [
            {
                "description": entry._remote_description(),
                "amount": base,
                "vatAmount": vat,
                "vatCode": code,
                "ledgerAccountId": _int_or_str(ledger),
            }
            for code, ledger, base, vat in entry._remote_lines()
        ]

    def _service_push_collective(self, client, entry, customer):
        if self.service != "asperion":
            return super()._service_push_collective(client, entry, customer)
        vals = {
            "invoiceNumber": entry.reference,
            "date": f"{entry.date}T00:00:00",
            "description": entry._remote_description(),
            "reference": entry.reference,
            "debtorId": int(customer),
            "lines": {"_data": self._asperion_collective_lines(entry)},
        }
        if self.asperion_journal_id:
            vals["journalId"] = self.asperion_journal_id.code
        return self._asperion_collective_result(client.create_sales_invoice(vals))

    def _service_find_collective(self, client, entry):
        if self.service != "asperion":
            return super()._service_find_collective(client, entry)
        for invoice in client.sales_invoices(
            InvoiceNumber=entry.reference, InvoiceNumber_comparison="Equals"
        ):
            if invoice.get("invoiceNumber") == entry.reference:
                return self._asperion_collective_result(invoice)
        return None

    def _asperion_collective_result(self, invoice):
        total = invoice.get("amountInclVat")
        return {
            "remote_id": str(invoice["id"]),
            "remote_number": invoice.get("invoiceNumber"),
            "remote_amount": float(total) if total is not None else None,
        }

    def _service_remote_url(self, move):
        if self.service != "asperion":
            return super()._service_remote_url(move)
        return False  # Asperion has no documented deep link to one invoice

    # ------------------------------------------------------------------ sync back

    def _asperion_since(self, moves):
        dates = [m.invoice_date or m.date for m in moves if m.invoice_date or m.date]
        return f"{min(dates)}T00:00:00" if dates else None

    def _service_sync_numbers(self, client, moves):
        """Drafts that Asperion finalised, in bulk (<= 1 call per page of 100 per list):
        the open drafts first, then the final invoices dated from the oldest waiting draft,
        matched on our reference. Listing the drafts first means a draft finalised in
        between is still found among the finals, never mistaken for a deleted one."""
        if self.service != "asperion":
            return super()._service_sync_numbers(client, moves)
        waiting = {m.name: m for m in moves if m.bookkeeping_state == "sent_draft"}
        if not waiting:
            return
        client.bookkeeping_log.operation = "sync_numbers"
        since = self._asperion_since(list(waiting.values()))
        # ``fields`` keeps the pages small: no lines, only what the sync reads.
        open_drafts = {
            str(d["id"]) for d in client.draft_invoices(Date_from=since, fields="id,description")
        }
        for invoice in client.sales_invoices(Date_from=since, fields=SYNC_FIELDS):
            move = waiting.pop(invoice.get("description") or "", None)
            if not move:
                continue
            status = invoice.get("status")
            move._bookkeeping_write(
                {
                    "bookkeeping_state": "done",
                    "bookkeeping_remote_id": str(invoice["id"]),
                    "bookkeeping_remote_number": invoice.get("invoiceNumber"),
                    "bookkeeping_remote_status": (
                        INVOICE_STATUS.get(status, "other") if status else False
                    ),
                    "bookkeeping_remote_amount": invoice.get("amountInclVat"),
                    "bookkeeping_remote_payment_state": "paid" if status == 7 else "open",
                }
            )
            if not waiting:
                break
        for move in waiting.values():
            if move.bookkeeping_remote_ref not in open_drafts:
                # Deleted in Asperion: say so; sending again makes a new draft.
                move._bookkeeping_set_error(
                    self.env._(
                        "The Asperion draft %(draft)s was deleted in Asperion without becoming "
                        "an invoice. Press Send to create a new draft if the invoice is still "
                        "due.",
                        draft=move.bookkeeping_remote_ref,
                    ),
                    retryable=False,
                )
                move._bookkeeping_write(
                    {"bookkeeping_remote_id": False, "bookkeeping_remote_status": False}
                )

    def _service_sync_payments(self, client, moves):
        """Open amounts from one paged list of outstanding invoices (pageSize 100)."""
        if self.service != "asperion":
            return super()._service_sync_payments(client, moves)
        finals = moves.filtered(lambda m: m.bookkeeping_state == "done" and m.bookkeeping_remote_id)
        if not finals:
            return
        client.bookkeeping_log.operation = "sync_payments"
        outstanding = {}
        for row in client.outstanding_sales_invoices(Date_from=self._asperion_since(finals)):
            outstanding[str(row.get("invoiceId"))] = row
        digits = self.company_id.currency_id.decimal_places
        for move in finals:
            row = outstanding.get(move.bookkeeping_remote_id)
            open_amount = abs(float(row.get("outstandingAmount") or 0.0)) if row else 0.0
            if float_is_zero(open_amount, precision_digits=digits):
                state = "paid"
            elif open_amount < abs(move.amount_total) - 10**-digits / 2:
                state = "partial"
            else:
                state = "open"
            vals = {
                "bookkeeping_remote_payment_state": state,
                "bookkeeping_remote_residual": open_amount,
            }
            if state == "paid" and move.bookkeeping_remote_status != INVOICE_STATUS[7]:
                vals["bookkeeping_remote_status"] = INVOICE_STATUS[7]
            if any(move[f] != v for f, v in vals.items()):
                move._bookkeeping_write(vals)

    # ------------------------------------------------------------------ partners

    def _service_partner_match_keys(self):
        if self.service != "asperion":
            return super()._service_partner_match_keys()
        return ["code", "vat", "coc", "email"]

    def _service_partner_vals(self, partner):
        """The debtor fields that Odoo has a value for. An empty Odoo field is left out, so
        it never blanks what the accountant entered in Asperion."""
        if self.service != "asperion":
            return super()._service_partner_vals(partner)
        country = (partner.country_id.code or "").upper()
        countries = self.option_ids.filtered(lambda o: o.kind == "country").mapped("code")
        if country and countries and country not in countries:
            raise UserError(
                self.env._(
                    "Asperion does not support the country %(country)s of %(partner)s.",
                    country=partner.country_id.name,
                    partner=partner.display_name,
                )
            )
        vals = {
            "name": partner.name,
            "emailAddress": partner.email,
            "vatNumber": partner.vat,
            "cocNumber": partner.company_registry,
            "address": " ".join(filter(None, [partner.street, partner.street2])),
            "postCode": partner.zip,
            "city": partner.city,
            "countryCode": country,
            "phoneNumber": partner.phone,
        }
        return {key: value for key, value in vals.items() if value}

    def _asperion_find_debtor(self, client, partner):
        """The debtor that is this partner, by the first key the partner has (one call)."""
        for attr, field in (
            ("ref", "CustomerNumber"),
            ("vat", "VatNumber"),
            ("company_registry", "CocNumber"),
            ("email", "EmailAddress"),
            ("name", "Name"),
        ):
            value = (partner[attr] or "").strip()
            if not value:
                continue
            key = {
                "CustomerNumber": "customerNumber",
                "VatNumber": "vatNumber",
                "CocNumber": "cocNumber",
                "EmailAddress": "emailAddress",
                "Name": "name",
            }[field]
            rows = [
                r
                for r in client.debtors(**{field: value, f"{field}_comparison": "Equals"})
                if str(r.get(key) or "").strip().lower() == value.lower()
            ]
            return rows[0] if len(rows) == 1 else None
        return None

    def _service_push_partner(self, client, partner, vals, update):
        """Link, create or update the debtor (see ``_push_partner``).

        A found debtor is only linked. A PUT replaces the whole debtor (the safe reading:
        asperion.md has PUT as [I]), so an update reads the debtor, lays the fields Odoo
        has a value for over it and writes the whole record back; nothing else changes.
        """
        if self.service != "asperion":
            return super()._service_push_partner(client, partner, vals, update)
        partner = partner.commercial_partner_id
        remote_id = self._partner_remote_id(partner)
        if remote_id:
            debtor = client.debtor(remote_id)
            if debtor and not update:
                return self._asperion_normalise_debtor(debtor, "kept")
            if debtor:
                return self._asperion_update_debtor(client, debtor, vals)
            # removed in Asperion: find it again, or create it again
        debtor = self._asperion_find_debtor(client, partner)
        if debtor:
            return self._asperion_normalise_debtor(debtor, "linked")
        if not self.asperion_debtor_kind_id:
            raise UserError(
                self.env._(
                    "Choose the debtor kind for new customers on the link: Asperion needs it to "
                    "create %(partner)s.",
                    partner=partner.display_name,
                )
            )
        vals = dict(vals, debtorKindId=self.asperion_debtor_kind_id.code)
        if partner.ref:
            vals["customerNumber"] = partner.ref
        try:
            debtor = client.create_debtor(vals)
        except client_errors.OutcomeUnknown:
            debtor = self._asperion_find_debtor(client, partner)
            if not debtor:
                raise
        return self._asperion_normalise_debtor(debtor, "created")

    def _asperion_update_debtor(self, client, debtor, vals):
        """Read, merge, write: the debtor as Asperion has it, with Odoo's values over it."""
        changed = {key: value for key, value in vals.items() if debtor.get(key) != value}
        if not changed:
            return self._asperion_normalise_debtor(debtor, "unchanged")
        body = {key: value for key, value in debtor.items() if key not in DEBTOR_READ_ONLY}
        body.update(changed)
        answer = client.update_debtor(debtor["id"], body)
        return self._asperion_normalise_debtor(answer or dict(debtor, **changed), "updated")

    def _asperion_normalise_debtor(self, row, outcome=None):
        return {
            "outcome": outcome,
            "remote_id": str(row["id"]),
            "code": row.get("customerNumber"),
            "name": row.get("name"),
            "vat": row.get("vatNumber"),
            "coc": row.get("cocNumber"),
            "email": row.get("emailAddress"),
            "street": row.get("address"),
            "zip": row.get("postCode"),
            "city": row.get("city"),
            "country_code": row.get("countryCode"),
            "raw": row,
        }

    def _service_fetch_customers(self, client):
        """All debtors, following ``_meta.nextPage`` to the end (100 per page)."""
        if self.service != "asperion":
            return super()._service_fetch_customers(client)
        return [self._asperion_normalise_debtor(row) for row in client.debtors()]
