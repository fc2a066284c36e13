"""Visma eAccounting service of the bookkeeping link (facts: doc/api/visma.md, V-ids).

Two invoice modes:

* ``remote``: a customer invoice draft with our marker in a text row and Odoo's reference in
  ``YourReference`` (one call). With *Book drafts at once* the draft is converted with the
  expected totals, so eAccounting refuses a difference instead of booking it (V34), and the
  invoice number comes back in the answer; otherwise the accountant converts it and the
  number sync reads it back in bulk (``CreatedFromDraftId``, V35).
* ``odoo``: a customer ledger item with its voucher (V38) under Odoo's number mapped to an
  int32 (``clients.visma.ledger_invoice_number``), every row on its mapped account and VAT
  code with Odoo's VAT to the cent, the PDF attached to the voucher (V43).

Draft rows carry no VAT and no account (V32): the article's coding fixes them. Products
are matched to articles by SKU and remembered in ``bookkeeping.product.link``; the
translation of the invoice document to eAccounting bodies is in
``bookkeeping_document_visma.py``.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero

from ..clients import errors as client_errors
from ..clients.oauth import MemoryTokenStore
from ..clients.visma import (
    PRODUCTION,
    SANDBOX,
    SCOPE,
    VismaClient,
    ledger_invoice_number,
)

ENVIRONMENTS = {"sandbox": SANDBOX, "production": PRODUCTION}
# V36: PaymentStatus of a customer invoice.
PAYMENT_STATUS = {0: "paid", 1: "open", 2: "open"}
# The web app; eAccounting documents no deep link to one record (left as the start page).
WEB_APP = "https://eaccounting.vismaonline.com"


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    service = fields.Selection(
        selection_add=[("visma", "Visma eAccounting")], ondelete={"visma": "cascade"}
    )

    visma_environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        "eAccounting environment",
        default="production",
    )
    visma_identity_url = fields.Char(
        "Visma identity URL",
        compute="_compute_visma_urls",
        store=True,
        readonly=False,
        help="Login and token server. Filled from the environment; change it only for a "
        "test server.",
    )
    visma_api_url = fields.Char(
        "eAccounting API URL",
        compute="_compute_visma_urls",
        store=True,
        readonly=False,
        help="API base (paths start with /v2/). Filled from the environment.",
    )
    visma_convert_drafts = fields.Boolean(
        "Book drafts at once",
        help="Convert every draft into an invoice right away, with Odoo's totals as the "
        "expected totals: eAccounting refuses a difference instead of booking it. When off, "
        "the accountant books the drafts in eAccounting and the number sync brings the "
        "numbers back.",
    )
    visma_keep_draft_date = fields.Boolean(
        "Keep the invoice date",
        default=True,
        help="Book a converted draft on Odoo's invoice date, whatever the company setting "
        "in eAccounting says (otherwise a past date becomes today).",
    )
    visma_terms_of_payment_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default terms of payment",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'payment_condition')]",
        help="For new customers whose payment term has no mapping (eAccounting requires "
        "terms of payment on every customer).",
    )
    visma_unit_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default unit",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'unit')]",
        help="Unit of new articles whose Odoo unit has no mapping.",
    )
    visma_receivable_account_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Receivable account",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'gl_account')]",
        help="Debit side of the vouchers of invoices that Odoo numbers.",
    )
    visma_untaxed_article_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Article for lines without tax",
        ondelete="restrict",
        domain="[('backend_id', '=', id), ('kind', '=', 'item')]",
        help="Drafts book every row on an article: cash rounding and other lines without "
        "tax go on this one (choose an article whose coding has no VAT).",
    )
    visma_update_articles = fields.Boolean(
        "Update existing articles from Odoo",
        help="When on, the name, unit and coding of an article that already exists in "
        "eAccounting are overwritten from Odoo when they differ. When off, articles "
        "enriched in eAccounting are left as they are; only missing ones are created.",
    )
    visma_default_customer_number = fields.Char(
        "Default customer for private persons",
        help="The eAccounting customer number used for invoices to private persons that are "
        "not linked (anonymous B2C sales), instead of creating a customer per person. "
        "Empty: every customer is created.",
    )
    visma_default_customer_id = fields.Char(readonly=True, copy=False)
    visma_journal_id = fields.Many2one(
        "account.journal",
        "Numbered sales journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        help="When Odoo numbers the invoice, the numbers of this journal become eAccounting's "
        "whole-number invoice numbers: series × 100,000,000 + year (2 digits) × 1,000,000 + "
        "sequence.",
    )
    visma_invoice_series = fields.Integer(
        "Series of invoices",
        default=1,
        help="First digits of the eAccounting number of an invoice (1..21).",
    )
    visma_refund_series = fields.Integer(
        "Series of credit notes",
        default=2,
        help="First digits of the eAccounting number of a credit note (1..21); it must "
        "differ from the invoices' series.",
    )

    _visma_series_differ = models.Constraint(
        "CHECK(visma_invoice_series IS NULL OR visma_invoice_series != visma_refund_series)",
        "Invoices and credit notes need different number series.",
    )

    @api.depends("visma_environment")
    def _compute_visma_urls(self):
        for backend in self:
            urls = ENVIRONMENTS.get(backend.visma_environment or "production")
            backend.visma_identity_url = urls["identity"]
            backend.visma_api_url = urls["api"]

    # ------------------------------------------------------------------ the link

    def _visma_oauth(self, token_store=None, on_call=None):
        backend = self.sudo()
        if not backend.client_id or not backend.client_secret:
            raise UserError(self.env._("Enter the Visma client ID and client secret first."))
        return VismaClient.make_oauth(
            backend.visma_identity_url,
            backend.client_id,
            backend.client_secret,
            token_store or self._token_store(),
            on_call=on_call,
        )

    def _service_capabilities(self):
        if self.service != "visma":
            return super()._service_capabilities()
        return frozenset({"push", "partners", "oauth"})

    # ------------------------------------------------------------------ screens

    def _service_vat_code_scope(self, option):
        # Visma's VAT codes say their scope only in their description (V-facts: no type).
        if self.service != "visma":
            return super()._service_vat_code_scope(option)
        return self._scope_from_words(option.name) or ("domestic" if option.percentage else False)

    def _service_option_is_income(self, option):
        # Inferred (doc/api/visma.md): the revenue accounts are those the article codings
        # book on; a Dutch chart keeps revenue in 8000-8999 when no coding names one.
        if self.service != "visma":
            return super()._service_option_is_income(option)
        revenue = set()
        for coding in self.option_ids.filtered(lambda o: o.kind == "article_coding"):
            revenue |= {
                str(value)
                for key, value in (coding.extra or {}).items()
                if value
                and key.startswith(("DomesticSales", "ForeignSales"))
                and key.endswith("AccountNumber")
            }
        if revenue:
            return option.code in revenue
        return option.code[:1] == "8" and len(option.code) == 4

    def _service_option_type_label(self, option):
        if self.service != "visma":
            return super()._service_option_type_label(option)
        if option.kind == "vat_code":
            return option.remote_type or False
        if option.kind == "unit":
            return (option.extra or {}).get("Abbreviation") or False
        if option.kind == "gl_account" and self._service_option_is_income(option):
            return self.env._("Revenue")
        return False

    def _service_suggest_defaults(self):
        if self.service != "visma":
            return super()._service_suggest_defaults()
        self._visma_suggest_defaults()

    def _service_setup_check(self):
        if self.service != "visma":
            return super()._service_setup_check()
        if not self.administration_code:
            return [self.env._("Connect the link to a Visma eAccounting company.")]
        missing = []
        if not self.visma_terms_of_payment_id:
            missing.append(self.env._("Choose the terms of payment for new customers."))
        if self.invoice_mode == "odoo" and not self.visma_journal_id:
            missing.append(
                self.env._("Choose the numbered sales journal whose numbers eAccounting receives.")
            )
        return missing

    def _service_make_client(self, on_call=None, **options):
        if self.service != "visma":
            return super()._service_make_client(on_call=on_call, **options)
        self.ensure_one()
        return VismaClient(
            self.visma_api_url,
            self._visma_oauth(on_call=on_call),
            company_id=self.administration_code or None,
            # Visma counts per endpoint: this limiter only makes the shared ones (V21).
            limiter=self._rate_limiter(("visma", self.visma_api_url)),
            on_call=on_call,
        )

    def _service_authorization_url(self, state, redirect_uri):
        if self.service != "visma":
            return super()._service_authorization_url(state, redirect_uri)
        # V5: the user picks the company on the Visma login; prompt=select_account makes
        # the picker show even when a default company is set.
        return self._visma_oauth().authorization_url(
            redirect_uri, state, scope=SCOPE, prompt="select_account"
        )

    def _service_exchange_code(self, code, redirect_uri):
        """Exchange the code, then check which company the login chose (V5, V6) before the
        core stores anything: a reconnect that landed in another company is refused, and a
        company without the API module is explained (V22)."""
        if self.service != "visma":
            return super()._service_exchange_code(code, redirect_uri)
        store = MemoryTokenStore()
        collector = self._log_collector()
        oauth = self._visma_oauth(store, on_call=collector)
        token = oauth.fetch_token(code, redirect_uri)
        client = VismaClient(self.visma_api_url, oauth, on_call=collector)
        client.bookkeeping_log = collector
        try:
            settings = client.company_settings()
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)
        chosen = settings.get("CompanyIdentifier")
        if self.administration_code and chosen != self.administration_code:
            raise UserError(
                self.env._(
                    "The Visma login chose the company %(chosen)s, but this link books in "
                    "%(linked)s. Nothing was changed. Press Reconnect again and choose "
                    "%(linked)s on the Visma page; to book in another company, create a new "
                    "link.",
                    chosen=settings.get("Name") or chosen,
                    linked=self.administration_name or self.administration_code,
                )
            )
        return token

    def _service_after_connect(self):
        """Store the company the login chose (CompanyIdentifier) and load the lists."""
        if self.service != "visma":
            return super()._service_after_connect()
        with self._session() as client:
            settings = client.company_settings()
        self.write(
            {
                "administration_code": settings.get("CompanyIdentifier"),
                "administration_name": settings.get("Name"),
            }
        )
        self._load_options()

    def _service_refresh_token(self):
        if self.service != "visma":
            return super()._service_refresh_token()
        self._visma_oauth().refresh(force=True)

    def _service_test_connection(self):
        if self.service != "visma":
            return super()._service_test_connection()
        with self._session() as client:
            settings = client.check_company(self.administration_code or None)
        return self.env._(
            "Connected to Visma eAccounting company %(name)s (%(id)s), currency %(currency)s. "
            "Budget: 600 calls per minute per endpoint.",
            name=settings.get("Name"),
            id=settings.get("CompanyIdentifier"),
            currency=settings.get("CurrencyCode") or "-",
        )

    # ------------------------------------------------------------------ lists

    def _service_load_options(self):
        if self.service != "visma":
            return super()._service_load_options()
        Option = self.env["bookkeeping.remote.option"]
        with self._session() as client:
            settings = client.check_company(self.administration_code or None)
            if not self.administration_code:
                self.write(
                    {
                        "administration_code": settings.get("CompanyIdentifier"),
                        "administration_name": settings.get("Name"),
                    }
                )
            lists = {
                "vat_code": [
                    {
                        "code": r["Id"],
                        "name": f"{r.get('Code') or ''} {r.get('Description') or ''}".strip(),
                        "percentage": r.get("VatRate") or 0.0,
                        "remote_type": r.get("Code"),
                        "extra": r,
                    }
                    for r in client.vat_codes()
                ],
                "payment_condition": [
                    {"code": r["Id"], "name": r.get("Name"), "extra": r}
                    for r in client.terms_of_payments()
                    if r.get("AvailableForSales", True)
                ],
                "article_coding": [
                    {
                        "code": r["Id"],
                        "name": r.get("Name"),
                        "percentage": r.get("VatRatePercent") or 0.0,
                        "active": r.get("IsActive", True),
                        "extra": r,
                    }
                    for r in client.article_account_codings()
                ],
                "unit": [
                    {
                        "code": r["Id"],
                        "name": r.get("Name"),
                        "remote_type": r.get("Code"),
                        "extra": r,
                    }
                    for r in client.units()
                ],
                "gl_account": [
                    {
                        "code": str(r["Number"]),
                        "name": r.get("Name"),
                        "active": r.get("IsActive", True),
                        "extra": {"VatCodeId": r.get("VatCodeId")},
                    }
                    for r in client.accounts()
                ],
                "fiscal_year": [
                    {
                        "code": r["Id"],
                        "name": f"{str(r.get('StartDate'))[:4]}",
                        "active": not r.get("IsLockedForAccounting"),
                        "extra": r,
                    }
                    for r in client.fiscal_years()
                ],
                "currency": [{"code": r["Code"], "name": r["Code"]} for r in client.currencies()],
                "item": [
                    {
                        "code": r["Number"],
                        "name": r.get("Name"),
                        "active": r.get("IsActive", True),
                        "extra": {
                            "Id": r["Id"],
                            "CodingId": r.get("CodingId"),
                            "UnitId": r.get("UnitId"),
                        },
                    }
                    for r in client.articles()
                ],
            }
            for kind, rows in lists.items():
                Option._sync_kind(self, kind, rows)
            if self.visma_default_customer_number:
                self._visma_resolve_default_customer(client)
        self._visma_suggest_defaults()

    def _visma_resolve_default_customer(self, client):
        number = self.visma_default_customer_number.strip()
        found = self._visma_customer_index(client)["code"].get(number.lower(), [])
        if len(found) != 1:
            raise UserError(
                self.env._(
                    "The default customer %(number)s for private persons was not found in "
                    "eAccounting: enter an existing customer number on the link.",
                    number=number,
                )
            )
        self.visma_default_customer_id = found[0]["Id"]

    def _visma_suggest_defaults(self):
        """Fill empty defaults when the choice is obvious, so a fresh link works at once."""
        vals = {}
        for field, kind in (
            ("visma_terms_of_payment_id", "payment_condition"),
            ("visma_unit_id", "unit"),
        ):
            options = self.option_ids.filtered(lambda o, k=kind: o.kind == k and o.active)
            if not self[field] and len(options) == 1:
                vals[field] = options.id
        if not self.visma_journal_id:
            journals = self.env["account.journal"].search(
                [("company_id", "=", self.company_id.id), ("type", "=", "sale")]
            )
            if len(journals) == 1:
                vals["visma_journal_id"] = journals.id
        if vals:
            self.write(vals)

    def _suggest_tax_mappings(self):
        """Also the coding of each tax (by rate) and its default article (the one article
        of that coding, when there is exactly one)."""
        result = super()._suggest_tax_mappings()
        for backend in self.filtered(lambda b: b.service == "visma"):
            for mapping in backend.tax_mapping_ids:
                vals = {}
                if not mapping.visma_coding_id:
                    vals["visma_coding_id"] = backend._visma_coding_for(mapping.tax_id).id
                coding = mapping.visma_coding_id or backend.option_ids.browse(
                    vals.get("visma_coding_id")
                )
                if coding and not mapping.visma_article_id:
                    articles = backend.option_ids.filtered(
                        lambda o, c=coding: (
                            o.kind == "item"
                            and o.active
                            and (o.extra or {}).get("CodingId") == c.code
                        )
                    )
                    if len(articles) == 1:
                        vals["visma_article_id"] = articles.id
                if any(vals.values()):
                    mapping.write({k: v for k, v in vals.items() if v})
        return result

    def _visma_coding_for(self, tax):
        codings = self.option_ids.filtered(
            lambda o: (
                o.kind == "article_coding"
                and o.active
                and float_compare(o.percentage, tax.amount, 2) == 0
            )
        )
        return codings if len(codings) == 1 else codings.browse()

    # ------------------------------------------------------------------ checks

    def _visma_tax_mapping(self, tax):
        """Plain values of the tax's mapping row (cached per run like _mapped_option)."""
        return self._visma_run_cache()["taxes"].get(tax.id, {})

    def _visma_tax_cache(self):
        return {
            m.tax_id.id: {
                "coding": m.visma_coding_id.code or False,
                "article": (m.visma_article_id.extra or {}).get("Id") or False,
                "article_name": m.visma_article_id.display_name,
            }
            for m in self.tax_mapping_ids
        }

    def _service_check_move(self, move):
        """Everything eAccounting would refuse, found before any call."""
        if self.service != "visma":
            return super()._service_check_move(move)
        errors = []
        if not self.administration_code:
            errors.append(self.env._("Connect the link to a Visma eAccounting company first."))
        document = move._bookkeeping_document()
        partner = move.partner_id.commercial_partner_id
        errors += self._visma_check_currency(move, partner)
        if not document["lines"]:
            errors.append(self.env._("The invoice has no lines to book."))
        if self.invoice_mode == "odoo":
            errors += self._visma_check_ledger(move, document)
        else:
            errors += self._visma_check_draft(move, document)
        if not self._visma_customer_id_for(partner):
            errors += self._visma_check_partner(partner)
        return errors

    def _visma_check_currency(self, move, partner):
        """V25, V32: eAccounting invoices a customer in the customer's currency."""
        errors = []
        currency = move.currency_id.name
        known = self.option_ids.filtered(lambda o: o.kind == "currency").mapped("code")
        if known and currency not in known:
            errors.append(
                self.env._(
                    "Visma eAccounting does not know the currency %(currency)s of this invoice.",
                    currency=currency,
                )
            )
        remote = self._partner_link(partner).visma_currency_code
        if self._partner_remote_id(partner) and remote and remote != currency:
            errors.append(
                self.env._(
                    "The customer %(partner)s is invoiced in %(remote)s in eAccounting, but "
                    "this invoice is in %(currency)s. Change the customer's currency in "
                    "eAccounting or invoice in %(remote)s.",
                    partner=partner.display_name,
                    remote=remote,
                    currency=currency,
                )
            )
        return errors

    def _visma_check_ledger(self, move, document):
        errors = []
        if move.currency_id != move.company_id.currency_id:
            # V38/V40: the voucher of a ledger item must balance against its total, and
            # the API gives no way to book its rows in the company currency beside it.
            errors.append(
                self.env._(
                    "Invoices in %(currency)s cannot be booked as ledger items with Odoo's "
                    "number (eAccounting books those in %(company)s). Send it in the mode "
                    "where eAccounting numbers the invoice.",
                    currency=move.currency_id.name,
                    company=move.company_id.currency_id.name,
                )
            )
        if not self.visma_journal_id:
            errors.append(
                self.env._(
                    "Choose the numbered sales journal on the link: its numbers become "
                    "eAccounting's invoice numbers."
                )
            )
        elif move.journal_id != self.visma_journal_id:
            errors.append(
                self.env._(
                    "Only invoices of the journal %(journal)s are booked with Odoo's number "
                    "(another journal's numbers could collide in eAccounting).",
                    journal=self.visma_journal_id.display_name,
                )
            )
        else:
            try:
                self._visma_ledger_number(move)
            except client_errors.ValidationError as error:
                errors.append(str(error))
        if not self.visma_receivable_account_id:
            errors.append(
                self.env._("Choose the receivable account on the link (tab eAccounting).")
            )
        missing_tax, missing_account, multi_tax, no_vat_account = set(), set(), set(), set()
        for line in document["lines"]:
            taxes = line["taxes"]
            if line["kind"] == "product":
                if len(taxes) != 1:
                    multi_tax.add(line["name"])
                elif not self._mapped_option("tax", taxes):
                    missing_tax.add(taxes.display_name)
                if not self._mapped_option("account", line["account"]):
                    missing_account.add(line["account"].display_name)
            if len(taxes) == 1 and self._mapped_option("tax", taxes):
                option = self._mapped_option("tax", taxes)
                if not currency_is_zero(move, line["vat"]) and not self._visma_vat_account(option):
                    no_vat_account.add(option.name)
        errors += self._visma_line_errors(multi_tax, missing_tax)
        if missing_account:
            errors.append(
                self.env._(
                    "Map these income accounts to an eAccounting account on the link: %(accounts)s",
                    accounts=", ".join(sorted(missing_account)),
                )
            )
        if no_vat_account:
            errors.append(
                self.env._(
                    "These eAccounting VAT codes name no VAT account to book the VAT on: "
                    "%(codes)s. Map the tax to another VAT code.",
                    codes=", ".join(sorted(no_vat_account)),
                )
            )
        errors += self._document_errors(document, lambda line: True)
        return errors

    def _visma_line_errors(self, multi_tax, missing_tax):
        errors = []
        if multi_tax:
            errors.append(
                self.env._(
                    "eAccounting takes exactly one VAT rate per line; these lines have none "
                    "or several taxes: %(lines)s",
                    lines=", ".join(sorted(multi_tax)),
                )
            )
        if missing_tax:
            errors.append(
                self.env._(
                    "Map these taxes to an eAccounting VAT code on the link: %(taxes)s",
                    taxes=", ".join(sorted(missing_tax)),
                )
            )
        return errors

    def _visma_check_draft(self, move, document):
        """Every draft row is an article row: each line needs an article (its product's,
        or the default one of its tax), and a product still to be created needs a coding."""
        errors = []
        multi_tax, missing_tax, no_article, no_coding = set(), set(), set(), set()
        for line in document["lines"]:
            taxes = line["taxes"]
            if len(taxes) > 1 or (line["kind"] == "product" and not taxes):
                multi_tax.add(line["name"])
                continue
            if not taxes:
                if not self.visma_untaxed_article_id:
                    no_article.add(
                        self.env._(
                            "%(line)s (choose the article for lines without tax on the link)",
                            line=line["name"],
                        )
                    )
                continue
            if not self._mapped_option("tax", taxes):
                missing_tax.add(taxes.display_name)
            mapping = self._visma_tax_mapping(taxes)
            product = line["line"].product_id if line["kind"] == "product" else None
            if product and product.default_code:
                if not self._visma_product_article(product) and not mapping.get("coding"):
                    no_coding.add(taxes.display_name)
            elif not mapping.get("article"):
                no_article.add(
                    self.env._(
                        "%(line)s (choose the default article of %(tax)s on the VAT codes tab, "
                        "or give the product an internal reference)",
                        line=line["name"],
                        tax=taxes.display_name,
                    )
                )
        errors += self._visma_line_errors(multi_tax, missing_tax)
        if no_article:
            errors.append(
                self.env._(
                    "These lines have no eAccounting article: %(lines)s",
                    lines="; ".join(sorted(no_article)),
                )
            )
        if no_coding:
            errors.append(
                self.env._(
                    "New articles need an article coding: choose the coding of %(taxes)s on the "
                    "VAT codes tab of the link.",
                    taxes=", ".join(sorted(no_coding)),
                )
            )
        if document["problem"]:
            errors.append(document["problem"])
        return errors

    def _visma_check_partner(self, partner):
        """V24: what creating the customer needs, checked before any call."""
        if self._visma_uses_default_customer(partner):
            return []
        missing = [
            label
            for label, value in (
                (self.env._("postal code"), partner.zip),
                (self.env._("city"), partner.city),
            )
            if not value
        ]
        errors = []
        if missing:
            errors.append(
                self.env._(
                    "eAccounting needs the %(fields)s of %(partner)s to create the customer: "
                    "fill them in on the contact.",
                    fields=", ".join(missing),
                    partner=partner.display_name,
                )
            )
        if not self._visma_terms_of_payment(partner):
            errors.append(
                self.env._(
                    "eAccounting needs terms of payment for %(partner)s: map its payment term "
                    "or choose the default terms of payment on the link.",
                    partner=partner.display_name,
                )
            )
        return errors

    def _visma_vat_account(self, option):
        accounts = (option.extra or {}).get("RelatedAccounts") or {}
        number = accounts.get("AccountNumber1")
        return int(number) if number else None

    def _visma_ledger_number(self, move):
        series = (
            self.visma_refund_series
            if move.move_type == "out_refund"
            else self.visma_invoice_series
        )
        return ledger_invoice_number(move.name, series)

    # ------------------------------------------------------------------ invoices

    def _service_push_move(self, client, move):
        if self.service != "visma":
            return super()._service_push_move(client, move)
        partner = move.partner_id.commercial_partner_id
        customer_id = self._visma_invoice_customer(client, move, partner)
        client.bookkeeping_log.record = move
        document = move._bookkeeping_document()
        if self.invoice_mode == "odoo":
            vals = self._visma_ledger_vals(move, customer_id, document)
            item = client.create_ledger_item(vals)
            # Booked: keep its id even if the PDF below fails.
            move._bookkeeping_write({"bookkeeping_remote_id": item["Id"]})
            return self._visma_ledger_result(client, move, item, attach=True)
        rows = self._visma_draft_rows(client, move, document)
        client.bookkeeping_log.record = move
        draft = client.create_draft(self._visma_draft_vals(move, customer_id, document, rows))
        move._bookkeeping_write(
            {"bookkeeping_remote_id": draft["Id"], "bookkeeping_remote_ref": draft["Id"]}
        )
        return self._visma_after_draft(client, move, draft, document)

    def _visma_invoice_customer(self, client, move, partner):
        """The customer id of the invoice: the partner's (created when allowed, with the
        invoice's currency), or the default customer of private persons."""
        if not self._partner_remote_id(partner) and self._visma_uses_default_customer(partner):
            return self.visma_default_customer_id
        backend = self.with_context(bookkeeping_visma_currency=move.currency_id.name)
        customer_id = backend._ensure_remote_partner(client, move.partner_id)
        remote = self._visma_customer_currency(client, partner, customer_id)
        if remote and remote != move.currency_id.name:
            raise UserError(
                self.env._(
                    "The customer %(partner)s is invoiced in %(remote)s in eAccounting, but "
                    "this invoice is in %(currency)s. Nothing was sent.",
                    partner=partner.display_name,
                    remote=remote,
                    currency=move.currency_id.name,
                )
            )
        return customer_id

    def _visma_after_draft(self, client, move, draft, document):
        """The draft exists. Book it at once (expected totals, V34) or leave it to the
        accountant; a draft whose totals differ from Odoo's is flagged, never booked."""
        if not self.visma_convert_drafts:
            self._visma_check_draft_total(move, draft, document)
            return self._visma_draft_result(draft)
        try:
            invoice = client.convert_draft(
                draft["Id"],
                self._visma_expected_totals(document),
                keep_date=self.visma_keep_draft_date,
            )
        except client_errors.ValidationError as error:
            # eAccounting refused to book a difference: the draft stays for a correction.
            self._flag_remote_total(
                move,
                self.env._(
                    "eAccounting did not book the draft of %(invoice)s: its totals differ "
                    "from Odoo's (%(msg)s). Correct the draft in eAccounting (check the "
                    "articles' codings) and book it there; the number sync brings the number "
                    "back.",
                    invoice=move.name,
                    msg=error.remote_message or error,
                ),
            )
            return self._visma_draft_result(draft)
        return self._visma_invoice_result(invoice)

    def _visma_check_draft_total(self, move, draft, document):
        total = draft.get("TotalAmount")
        if total is not None and float_compare(total, document["total"], 2):
            self._flag_remote_total(
                move,
                self.env._(
                    "The eAccounting draft of %(invoice)s totals %(remote)s while Odoo's "
                    "total is %(odoo)s. Correct the draft before booking it (check the "
                    "articles' codings).",
                    invoice=move.name,
                    remote=total,
                    odoo=document["total"],
                ),
            )

    def _visma_draft_result(self, draft):
        return {
            "remote_id": draft["Id"],
            "remote_ref": draft["Id"],
            "state": "sent_draft",
            "remote_status": "draft",
            "remote_amount": draft.get("TotalAmount"),
        }

    def _visma_invoice_result(self, invoice):
        status = invoice.get("PaymentStatus")
        return {
            "remote_id": invoice["Id"],
            "remote_ref": invoice.get("CreatedFromDraftId"),
            "state": "done",
            "remote_number": str(invoice.get("InvoiceNumber") or ""),
            "remote_status": "paid" if status == 0 else "booked",
            "remote_amount": invoice.get("TotalAmountInvoiceCurrency"),
            "remote_payment_state": PAYMENT_STATUS.get(status, "open"),
        }

    def _visma_ledger_result(self, client, move, item, attach=False):
        if attach and self.attach_pdf:
            self._service_attach_pdf(client, move, voucher_id=item.get("VoucherId"))
        return {
            "remote_id": item["Id"],
            "remote_ref": item.get("VoucherId"),
            "state": "done",
            "remote_number": str(item.get("InvoiceNumber") or ""),
            "remote_status": "booked",
            "remote_amount": item.get("TotalAmountInvoiceCurrency"),
            "remote_payment_state": "open",
        }

    def _service_find_move(self, client, move):
        """Look the invoice up by our own keys before any retry: the ledger item by its
        InvoiceNumber (V40); the draft by our marker row, or, once converted (a lost
        convert), the invoice by marker and CreatedFromDraftId (V35)."""
        if self.service != "visma":
            return super()._service_find_move(client, move)
        client.bookkeeping_log.record = move
        if self.invoice_mode == "odoo":
            number = self._visma_ledger_number(move)
            item = client.find_ledger_items([number]).get(number)
            # The create answer was lost, so was the PDF that follows it.
            return self._visma_ledger_result(client, move, item, attach=True) if item else None
        draft = client.find_draft(move.name)
        if draft:
            move._bookkeeping_write(
                {"bookkeeping_remote_id": draft["Id"], "bookkeeping_remote_ref": draft["Id"]}
            )
            return self._visma_after_draft(client, move, draft, move._bookkeeping_document())
        draft_id = move.bookkeeping_remote_ref
        for invoice in client.find_invoices(move.name):
            if not draft_id or str(invoice.get("CreatedFromDraftId")).lower() == draft_id.lower():
                return self._visma_invoice_result(invoice)
        return None

    def _service_attach_pdf(self, client, move, voucher_id=None, **options):
        """The PDF on the voucher of a ledger item (V43: upload, then link). Drafts get no
        Odoo PDF: eAccounting numbers and prints those invoices itself. The booking always
        stands: a PDF that cannot be made now is flagged 'to attach'."""
        if self.service != "visma":
            return super()._service_attach_pdf(client, move, voucher_id=voucher_id, **options)
        if (move.bookkeeping_invoice_mode or self.invoice_mode) == "remote":
            return
        voucher_id = voucher_id or move.bookkeeping_remote_ref
        pdf = self._invoice_pdf(move)
        if not pdf:
            return
        filename, content = pdf
        try:
            client.attach_voucher_pdf(voucher_id, filename, content)
        except client_errors.BookkeepingError as error:
            if isinstance(
                error,
                client_errors.AuthExpired | client_errors.AccessDenied | client_errors.RateLimited,
            ):
                raise
            message = self.env._(
                "The invoice was booked in eAccounting but its PDF could not be attached: %(msg)s",
                msg=error.remote_message or error,
            )
            if isinstance(error, client_errors.ValidationError):
                move._message_log(body=message)
                move._bookkeeping_pdf_done("failed", message)
            else:
                move._bookkeeping_pdf_pending(message)
            return
        if move.bookkeeping_pdf_state == "pending":
            move._message_log(body=self.env._("The invoice PDF was attached in eAccounting."))
        move._bookkeeping_pdf_done("attached")

    def _service_remote_url(self, move):
        if self.service != "visma":
            return super()._service_remote_url(move)
        # eAccounting documents no link to one invoice: the web app's start page.
        return WEB_APP if move.bookkeeping_remote_id else False

    # ------------------------------------------------------------------ sync back

    def _visma_since(self, moves):
        """The oldest send date of ``moves`` less a day (clock skew), in UTC (V17)."""
        dates = [m.bookkeeping_sent_date for m in moves if m.bookkeeping_sent_date]
        if not dates:
            return None
        return (min(dates) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _service_sync_numbers(self, client, moves):
        """In bulk: the open drafts first (pages), then the invoices changed since the
        oldest waiting draft was sent, matched on CreatedFromDraftId (V35). Listing the
        drafts first means a draft booked in between is found among the invoices, never
        taken for a deleted one."""
        if self.service != "visma":
            return super()._service_sync_numbers(client, moves)
        waiting = {
            (m.bookkeeping_remote_ref or "").lower(): m
            for m in moves
            if m.bookkeeping_state == "sent_draft" and m.bookkeeping_remote_ref
        }
        if not waiting:
            return
        client.bookkeeping_log.operation = "sync_numbers"
        open_drafts = {key.lower() for key in client.drafts_by_ids(waiting)}
        for invoice in client.invoices(modified_since=self._visma_since(waiting.values())):
            move = waiting.pop(str(invoice.get("CreatedFromDraftId") or "").lower(), None)
            if move:
                move._bookkeeping_write(self._visma_move_vals(self._visma_invoice_result(invoice)))
            if not waiting:
                break
        for key, move in waiting.items():
            if key in open_drafts:
                continue
            # Deleted in eAccounting: say so; sending again makes a new draft.
            move._bookkeeping_set_error(
                self.env._(
                    "The eAccounting draft of %(invoice)s was deleted in eAccounting without "
                    "becoming an invoice. Press Send to create a new draft if the invoice is "
                    "still due.",
                    invoice=move.name,
                ),
                retryable=False,
            )
            move._bookkeeping_write(
                {
                    "bookkeeping_remote_id": False,
                    "bookkeeping_remote_ref": False,
                    "bookkeeping_remote_status": False,
                }
            )

    def _visma_move_vals(self, result):
        vals = {
            "bookkeeping_state": result["state"],
            "bookkeeping_remote_id": result["remote_id"],
            "bookkeeping_remote_number": result.get("remote_number"),
            "bookkeeping_remote_status": result.get("remote_status"),
            "bookkeeping_remote_amount": result.get("remote_amount"),
        }
        if result.get("remote_payment_state"):
            vals["bookkeeping_remote_payment_state"] = result["remote_payment_state"]
        return vals

    def _service_sync_payments(self, client, moves):
        """In bulk, per mode the invoice went in: customer invoices changed since the
        oldest was sent (``modifiedSinceUtc``, which payments move, V17), and the ledger
        items in pages (their remaining amount is their payment state, V41)."""
        if self.service != "visma":
            return super()._service_sync_payments(client, moves)
        finals = moves.filtered(lambda m: m.bookkeeping_state == "done" and m.bookkeeping_remote_id)
        if not finals:
            return
        client.bookkeeping_log.operation = "sync_payments"
        ledger = finals.filtered(lambda m: m.bookkeeping_invoice_mode == "odoo")
        invoiced = finals - ledger
        remote = {}
        if invoiced:
            since = self._visma_since(invoiced)
            wanted = {m.bookkeeping_remote_id.lower() for m in invoiced}
            for row in client.invoices(modified_since=since):
                if str(row["Id"]).lower() in wanted:
                    remote[str(row["Id"]).lower()] = row
        if ledger:
            wanted = {m.bookkeeping_remote_id.lower() for m in ledger}
            for row in client.ledger_items():
                if str(row["Id"]).lower() in wanted:
                    remote[str(row["Id"]).lower()] = row
        digits = self.company_id.currency_id.decimal_places
        for move in finals:
            row = remote.get(move.bookkeeping_remote_id.lower())
            if row is None:
                continue  # unchanged since it was sent (or not readable): keep what we know
            open_amount = abs(float(row.get("RemainingAmountInvoiceCurrency") or 0.0))
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
            if state == "paid":
                vals["bookkeeping_remote_status"] = "paid"
            if any(move[f] != v for f, v in vals.items()):
                move._bookkeeping_write(vals)

    # ------------------------------------------------------------------ partners

    def _visma_customer_id_for(self, partner):
        if not self._partner_remote_id(partner) and self._visma_uses_default_customer(partner):
            return self.visma_default_customer_id
        return self._partner_remote_id(partner)

    def _visma_uses_default_customer(self, partner):
        """Anonymous B2C: a private person (no company, no VAT number) goes on the default
        customer when the link names one."""
        return bool(self.visma_default_customer_id and not partner.is_company and not partner.vat)

    def _visma_terms_of_payment(self, partner):
        term = partner.with_company(self.company_id).property_payment_term_id
        option = self._mapped_option("payment_term", term) if term else None
        option = option or self.visma_terms_of_payment_id
        return option.code if option else False

    def _service_partner_url(self, link):
        if self.service != "visma":
            return super()._service_partner_url(link)
        return WEB_APP  # no documented link to one customer: the web app

    def _visma_customer_currency(self, client, partner, customer_id):
        """The customer's currency in eAccounting: remembered on the link, or read once."""
        link = self._partner_link(partner)
        currency = link.visma_currency_code or getattr(client, "_visma_currencies", {}).get(
            customer_id
        )
        if not currency:
            customer = client.customer(customer_id) or {}
            currency = customer.get("CurrencyCode")
        if currency and link and link.visma_currency_code != currency:
            link.visma_currency_code = currency
        return currency

    def _service_partner_match_keys(self):
        if self.service != "visma":
            return super()._service_partner_match_keys()
        return ["email", "code", "vat"]  # APIcenter's rule: the e-mail address first

    def _service_partner_vals(self, partner):
        """The customer fields Odoo has a value for (V24): an empty Odoo field is left
        out, so it never blanks what the accountant entered in eAccounting."""
        if self.service != "visma":
            return super()._service_partner_vals(partner)
        street = " ".join(filter(None, [partner.street]))
        vals = {
            "Name": (partner.name or "")[:50],
            "EmailAddress": partner.email,
            "VatNumber": partner.vat,
            "CorporateIdentityNumber": partner.company_registry,
            "InvoiceAddress1": street[:50],
            "InvoiceAddress2": (partner.street2 or "")[:50],
            "InvoicePostalCode": (partner.zip or "")[:10],
            "InvoiceCity": (partner.city or "")[:50],
            "InvoiceCountryCode": (partner.country_id.code or "").upper(),
            "Telephone": partner.phone,
            "TermsOfPaymentId": self._visma_terms_of_payment(partner),
        }
        vals = {key: value for key, value in vals.items() if value}
        vals["IsPrivatePerson"] = not partner.is_company
        contact = partner.child_ids.filtered(lambda c: c.type == "contact" and c.active)[:1]
        if partner.is_company and contact:
            contact_vals = {
                "ContactPersonName": (contact.name or "")[:100],
                "ContactPersonEmail": contact.email,
                "ContactPersonPhone": contact.phone,
            }
            vals.update({key: value for key, value in contact_vals.items() if value})
        return vals

    def _visma_customer_index(self, client):
        """Every customer read once per run (pages of 100), indexed by e-mail, number and
        VAT number: matching 200 partners costs a few calls, not 200 list reads."""
        index = getattr(client, "_visma_customers", None)
        if index is None:
            index = {"email": {}, "code": {}, "vat": {}}
            for row in client.customers():
                self._visma_index_customer(index, row)
            client._visma_customers = index
        return index

    def _visma_index_customer(self, index, row):
        for key, field in (
            ("email", "EmailAddress"),
            ("code", "CustomerNumber"),
            ("vat", "VatNumber"),
        ):
            value = str(row.get(field) or "").strip().lower()
            if value:
                found = index[key].setdefault(value, [])
                found[:] = [r for r in found if r["Id"] != row["Id"]] + [row]

    def _visma_find_customer(self, client, partner):
        """By e-mail first (APIcenter's rule), then by customer number, then by VAT number;
        only a unique match links. Several matches stop: linking one of them is a choice."""
        index = self._visma_customer_index(client)
        for key, value in (("email", partner.email), ("code", partner.ref), ("vat", partner.vat)):
            value = (value or "").strip().lower()
            found = index[key].get(value, []) if value else []
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise UserError(
                    self.env._(
                        "Several eAccounting customers have the %(key)s %(value)s of "
                        "%(partner)s: link the right one with Sync customers.",
                        key=key,
                        value=value,
                        partner=partner.display_name,
                    )
                )
        return None

    def _service_push_partner(self, client, partner, vals, update):
        """Link, create or update the customer (see ``_push_partner``). A found customer
        is only linked. PUT replaces the writable fields (V26), so an update reads the
        customer, lays Odoo's values over it and writes the whole record back."""
        if self.service != "visma":
            return super()._service_push_partner(client, partner, vals, update)
        partner = partner.commercial_partner_id
        remote_id = self._partner_remote_id(partner)
        if remote_id:
            customer = client.customer(remote_id)
            if customer and not update:
                return self._visma_normalise_customer(customer, "kept", client)
            if customer:
                return self._visma_update_customer(client, customer, vals)
            # deleted in eAccounting: find it again, or create it again
        customer = self._visma_find_customer(client, partner)
        if customer:
            return self._visma_normalise_customer(customer, "linked", client)
        problems = self._visma_check_partner(partner)
        if problems:
            raise UserError("\n".join(problems))
        body = dict(vals, IsActive=True)
        body["CurrencyCode"] = (
            self.env.context.get("bookkeeping_visma_currency") or self.company_id.currency_id.name
        )
        if partner.ref:
            body["CustomerNumber"] = partner.ref[:16]
        try:
            customer = client.create_customer(body)
        except client_errors.OutcomeUnknown:
            client._visma_customers = None  # read the list again: it may be there now
            customer = self._visma_find_customer(client, partner)
            if not customer:
                raise
        self._visma_index_customer(self._visma_customer_index(client), customer)
        return self._visma_normalise_customer(customer, "created", client)

    def _push_partner(self, client, partner, changed_only=False):
        """Remember the customer's currency on its link as soon as a customer is linked,
        created or read: the invoice push then needs no read of the customer (V25)."""
        remote = super()._push_partner(client, partner, changed_only=changed_only)
        currency = (remote.get("raw") or {}).get("CurrencyCode")
        if self.service == "visma" and currency:
            link = self._partner_link(partner.commercial_partner_id)
            if link and link.visma_currency_code != currency:
                link.visma_currency_code = currency
        return remote

    def _visma_update_customer(self, client, customer, vals):
        changed = {key: value for key, value in vals.items() if customer.get(key) != value}
        if not changed:
            return self._visma_normalise_customer(customer, "unchanged", client)
        body = {
            key: value
            for key, value in customer.items()
            if key
            not in (
                "Id",
                "ChangedUtc",
                "TermsOfPayment",
                "PayToAccountId",
                "LastInvoiceDate",
                "MessageThreads",
                "Notes",
                "IsFutureInvoiceDateAllowed",
                "UnpaidInvoicesAmount",
            )
        }
        body.update(changed)
        answer = client.update_customer(customer["Id"], body)
        return self._visma_normalise_customer(
            answer or dict(customer, **changed), "updated", client
        )

    def _visma_normalise_customer(self, row, outcome=None, client=None):
        if client is not None and row.get("CurrencyCode"):
            client._visma_currencies = dict(
                getattr(client, "_visma_currencies", {}), **{row["Id"]: row["CurrencyCode"]}
            )
        return {
            "outcome": outcome,
            "remote_id": row["Id"],
            "code": row.get("CustomerNumber"),
            "name": row.get("Name"),
            "vat": row.get("VatNumber"),
            "coc": row.get("CorporateIdentityNumber"),
            "email": row.get("EmailAddress"),
            "street": row.get("InvoiceAddress1"),
            "zip": row.get("InvoicePostalCode"),
            "city": row.get("InvoiceCity"),
            "country_code": row.get("InvoiceCountryCode"),
            "raw": row,
        }

    def _service_fetch_customers(self, client):
        if self.service != "visma":
            return super()._service_fetch_customers(client)
        return [self._visma_normalise_customer(row) for row in client.customers()]


def currency_is_zero(move, amount):
    return move.currency_id.is_zero(amount)
