"""Exact Online service of the bookkeeping link (overrides of the ``_service_<hook>``
methods of ``bookkeeping_service_contract.py``, see doc/contracts.md). API facts in our
words: doc/api/exact.md.

Two invoice modes:

* ``odoo``: a posted invoice is booked as a ``salesentry/SalesEntries`` entry with the
  Odoo number in ``YourRef``, one line per invoice line on the mapped GL account, VAT per
  line that adds up to Odoo's tax total to the cent, and the PDF attached.
* ``remote``: a ``salesinvoice/SalesInvoices`` draft on Exact items; Exact assigns the
  number (optionally at once through ``PrintedSalesInvoices``), the number sync pulls it back.

Section and note lines: a zero-amount line is not valid in SalesEntries, so in ``odoo``
mode their text goes into the ``Notes`` of the invoice line they stand above (the last
line for trailing notes). In ``remote`` mode they go as a text line on the default item
with quantity 0 (Exact shows the text and adds nothing).
"""

import logging
from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from urllib.parse import quote

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from ..clients import errors as client_errors
from ..clients.exact import HOSTS, MAX_URL, ExactClient, Guid, literal, or_groups
from ..clients.oauth import MemoryTokenStore

_logger = logging.getLogger(__name__)

EXACT_LOCATIONS = [
    ("nl", "Netherlands"),
    ("be", "Belgium"),
    ("de", "Germany"),
    ("fr", "France"),
    ("es", "Spain"),
    ("co.uk", "United Kingdom"),
    ("com", "United States"),
    ("sandbox", "Sandbox / test server"),
]
SANDBOX_DEFAULT_URL = "http://localhost:8079/exact"  # ./run sandbox (port 8079)
SALES_JOURNAL = "20"
# GLAccounts Type 110 is revenue (exact-online.md, financial/GLAccounts).
EXACT_INCOME_TYPES = ("110",)
PROCESSED = 50  # SalesInvoices Status: 10 draft, 20 open, 50 processed
REMOTE_CREDIT_NOTE = 8021
REMOTE_INVOICE = 8020
NOTE_TYPES = ("line_section", "line_subsection", "line_note")
# Lines that are booked on their own account in mode "remote" too (not on an item's).
EXACT_OWN_ACCOUNT_KINDS = ("cash_rounding", "discount")
INVOICE_SELECT = "InvoiceID,InvoiceNumber,YourRef,Status,AmountFC"
RECEIVABLE_SELECT = (
    "ID,TransactionEntryID,InvoiceNumber,YourRef,IsFullyPaid,Status,AmountDC,AmountFC,"
    "LastPaymentDate"
)


CENT = Decimal("0.01")


# ---------------------------------------------------------------------- company currency
# Exact takes no company-currency amount on SalesEntries (AmountDC and VATAmountDC are
# read-only): it computes each line as round(AmountFC x Rate) and the header as their sum.
# So the Rate is derived such that those roundings give Odoo's balances: per income
# account and per tax. A rate rounded to six decimals did not (289.62 instead of 289.63).


def _cents(value):
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _exact_dc(amount, rate):
    """What Exact books in the company currency for ``amount`` at ``rate``."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _rate_window(amounts, target, hint):
    """[low, high) of the rates at which the lines ``amounts`` (Decimals of one sign) sum
    in the company currency to ``target``; None: any rate does; False: none does. The sum
    of roundings grows with the rate, so the rates that hit ``target`` form one interval."""
    amounts = [abs(a) for a in amounts if a]
    target = abs(target)
    if not amounts:
        return None if not target else False

    def first_reaching(goal):
        low, high = Decimal(0), hint * 4 + 1
        for _step in range(80):
            middle = (low + high) / 2
            if sum(_exact_dc(a, middle) for a in amounts) >= goal:
                high = middle
            else:
                low = middle
        return high

    return first_reaching(target), first_reaching(target + CENT)


def _pick_rate(low, high, hint, check):
    """The rate in [low, high) with the fewest decimals (six or more), nearest to ``hint``,
    for which ``check(rate)`` holds."""
    for digits in range(6, 16):
        step = Decimal(1).scaleb(-digits)
        top = high.quantize(step, rounding=ROUND_FLOOR)
        if top >= high:
            top -= step
        candidates = {
            hint.quantize(step, rounding=ROUND_HALF_UP),
            low.quantize(step, rounding=ROUND_CEILING),
            top,
        }
        for rate in sorted(candidates, key=lambda c: abs(c - hint)):
            if low <= rate < high and check(rate):
                return rate
    return None


def _spread_vat(vats, rate, target):
    """Move cents of VAT between the lines of one tax (their sum stays Odoo's) until their
    company-currency roundings sum to ``target``; False when that cannot be done."""
    for _step in range(4 * len(vats) + 4):
        diff = target - sum(_exact_dc(v, rate) for v in vats)
        if not diff:
            return True
        want = CENT if diff > 0 else -CENT
        best = None
        for k, to_line in enumerate(vats):
            for j, from_line in enumerate(vats):
                if j == k or (from_line - CENT) * from_line <= 0 or (to_line + CENT) * to_line <= 0:
                    continue  # never empty a line's VAT, put VAT on a line without, or flip it
                gain = (_exact_dc(to_line + CENT, rate) - _exact_dc(to_line, rate)) - (
                    _exact_dc(from_line, rate) - _exact_dc(from_line - CENT, rate)
                )
                if gain == want and (best is None or abs(to_line) + abs(from_line) > best[0]):
                    best = (abs(to_line) + abs(from_line), k, j)
        if best is None:
            return False
        vats[best[1]] += CENT
        vats[best[2]] -= CENT
    return False


def _solve_rate(constraints, hint):
    """A rate at which every (amounts, target) of ``constraints`` holds, or None."""
    low, high = Decimal(0), hint * 4 + 1
    for amounts, target in constraints:
        window = _rate_window(amounts, target, hint)
        if window is False:
            return None
        if window:
            low, high = max(low, window[0]), min(high, window[1])
    if low >= high:
        return None
    return _pick_rate(
        low,
        high,
        hint,
        lambda rate: all(
            sum(_exact_dc(a, rate) for a in amounts) == target for amounts, target in constraints
        ),
    )


def _grouped(lines, values, company_key, key):
    """(amounts, company-currency target) per group of lines (``key(index)``)."""
    return [
        ([values[i] for i in idx], sum(_cents(lines[i][company_key]) for i in idx))
        for idx in _index_groups(len(lines), key)
    ]


def exact_entry_rate(document, invoice_currency_rate):
    """(Rate, VAT per line) of a SalesEntry in a foreign currency, so that Exact's
    company-currency amounts equal Odoo's balances: every line if possible, else the lines
    per income account and the VAT per tax. Falls back to Odoo's own rate when no rate can
    make them agree; the read-back check then flags the entry."""
    lines = document["lines"]
    hint = Decimal(1) / Decimal(repr(invoice_currency_rate))
    amounts = [_cents(line["amount"]) for line in lines]
    vats = [_cents(line["vat"]) for line in lines]

    def tax_of(index, with_sign=True):
        taxes = lines[index]["taxes"]
        if not taxes:
            return None
        return (tuple(taxes.ids), vats[index] > 0) if with_sign else tuple(taxes.ids)

    each_line = _grouped(lines, amounts, "amount_company", lambda i: i) + _grouped(
        lines, vats, "vat_company", lambda i: i if lines[i]["taxes"] else None
    )
    per_account = _grouped(
        lines, amounts, "amount_company", lambda i: (lines[i]["account"].id, amounts[i] > 0)
    )
    # Best: every line as Odoo booked it; else the sums per account and per tax, with the
    # VAT as Odoo spread it over the lines (Odoo puts rounding differences on some lines).
    rate = _solve_rate(each_line, hint) or _solve_rate(
        per_account + _grouped(lines, vats, "vat_company", tax_of), hint
    )
    if rate is None:
        # Else a rate for the lines, and the VAT of each tax spread so that it agrees.
        rate = _solve_rate(per_account, hint)
        for idx in (
            _index_groups(len(lines), lambda i: tax_of(i, False)) if rate is not None else []
        ):
            spread = [vats[i] for i in idx]
            if _spread_vat(spread, rate, sum(_cents(lines[i]["vat_company"]) for i in idx)):
                for i, vat in zip(idx, spread, strict=True):
                    vats[i] = vat
    if rate is None:
        rate = hint.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
    return float(rate), [float(vat) for vat in vats]


def _index_groups(count, key):
    groups = defaultdict(list)
    for index in range(count):
        if key(index) is not None:
            groups[key(index)].append(index)
    return list(groups.values())


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    service = fields.Selection(
        selection_add=[("exact", "Exact Online")], ondelete={"exact": "cascade"}
    )
    exact_location = fields.Selection(
        EXACT_LOCATIONS,
        "Exact location",
        default="nl",
        help="The country site of the Exact Online account; data and tokens stay on it. "
        "Sandbox: a test server at the base URL you enter.",
    )
    exact_base_url = fields.Char(
        "Exact base URL",
        compute="_compute_exact_base_url",
        store=True,
        readonly=False,
        help="Follows the location. With the location Sandbox, the address of the test "
        "server (e.g. http://localhost:8079/exact for ./run sandbox).",
    )
    exact_division_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Exact division",
        domain="[('backend_id', '=', id), ('kind', '=', 'administration')]",
        compute="_compute_exact_division_id",
        inverse="_inverse_exact_division_id",
        help="The Exact division (administration) the invoices go to. Chosen once from the "
        "divisions of the user; switching company in the Exact web site changes nothing.",
    )
    exact_division_currency = fields.Char("Division currency", default="EUR", copy=False)
    exact_journal_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Exact sales journal",
        domain="[('backend_id', '=', id), ('kind', '=', 'journal'), ('remote_type', '=', '20')]",
    )
    exact_item_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Exact default item",
        domain="[('backend_id', '=', id), ('kind', '=', 'item')]",
        help="Item for invoice lines whose product has no item with the same code (mode "
        "'The remote package numbers the invoice').",
    )
    exact_print_invoices = fields.Boolean(
        "Process in Exact at once",
        help="Process each sales invoice with PrintedSalesInvoices right after creating it, "
        "so Exact assigns its number at once.",
    )

    @api.depends("exact_location")
    def _compute_exact_base_url(self):
        for backend in self:
            if backend.exact_location == "sandbox":
                # Keep a test server already entered; a country host is no test server.
                if not backend.exact_base_url or backend.exact_base_url in HOSTS.values():
                    backend.exact_base_url = SANDBOX_DEFAULT_URL
            else:
                backend.exact_base_url = HOSTS.get(backend.exact_location or "nl")

    @api.depends("administration_code", "option_ids")
    def _compute_exact_division_id(self):
        for backend in self:
            backend.exact_division_id = backend.option_ids.filtered(
                lambda o, b=backend: o.kind == "administration" and o.code == b.administration_code
            )[:1]

    def _inverse_exact_division_id(self):
        for backend in self:
            option = backend.exact_division_id
            if option and option.code != backend.administration_code:
                backend._exact_set_division(option)

    def _exact_set_division(self, option):
        """Remember the chosen division; every call afterwards uses it (never CurrentDivision)."""
        self.write(
            {
                "administration_code": option.code,
                "administration_name": option.name,
                "exact_division_currency": (option.extra or {}).get("Currency") or "EUR",
            }
        )

    # ------------------------------------------------------------------ client and OAuth

    def _exact_host(self):
        url = self.exact_base_url or HOSTS.get(self.exact_location or "nl")
        if not url:
            raise UserError(self.env._("Enter the Exact base URL of the test server."))
        return url.rstrip("/")

    def _exact_oauth(self, token_store, on_call=None):
        backend = self.sudo()
        return ExactClient.make_oauth(
            self._exact_host(),
            backend.client_id or "",
            backend.client_secret or "",
            token_store,
            on_call=on_call,
        )

    def _service_make_client(self, on_call=None, division=None, **options):
        if self.service != "exact":
            return super()._service_make_client(on_call=on_call, division=division, **options)
        self.ensure_one()
        division = int(division or self.administration_code or 0)
        return ExactClient(
            self._exact_host(),
            division,
            self._exact_oauth(self._token_store(), on_call),
            limiter=self._rate_limiter(("exact", division)),
            on_call=on_call,
        )

    def _service_authorization_url(self, state, redirect_uri):
        if self.service != "exact":
            return super()._service_authorization_url(state, redirect_uri)
        return self._exact_oauth(MemoryTokenStore()).authorization_url(
            redirect_uri, state, force_login=0
        )

    def _service_exchange_code(self, code, redirect_uri):
        # The core stores the pair on the callback's transaction.
        if self.service != "exact":
            return super()._service_exchange_code(code, redirect_uri)
        return self._exact_oauth(MemoryTokenStore()).fetch_token(code, redirect_uri)

    def _service_refresh_token(self):
        if self.service != "exact":
            return super()._service_refresh_token()
        with self._session() as client:
            client.oauth.refresh(force=True)

    def _service_after_connect(self):
        """Load the divisions so the manager can choose; preselect a sensible one."""
        if self.service != "exact":
            return super()._service_after_connect()
        with self._session(division=0) as client:
            me = client.me()
            client.division = int(me.get("CurrentDivision") or 0)
            self._exact_load_divisions(client, me)

    def _exact_load_divisions(self, client, me=None):
        rows = client.divisions()
        self.env["bookkeeping.remote.option"]._sync_kind(
            self,
            "administration",
            [
                {
                    "code": str(row["Code"]),
                    "name": row.get("Description") or str(row["Code"]),
                    "extra": {
                        "Currency": row.get("Currency"),
                        "Country": row.get("Country"),
                        "Hid": row.get("Hid") or row.get("HID"),
                    },
                }
                for row in rows
            ],
        )
        if self.administration_code:
            return
        divisions = self.option_ids.filtered(lambda o: o.kind == "administration")
        current = str((me or {}).get("CurrentDivision") or "")
        # The division open in the web site is only a first suggestion, stored once.
        choice = divisions.filtered(lambda o: o.code == current)[:1] or divisions[:1]
        if choice:
            self._exact_set_division(choice)

    # ------------------------------------------------------------------ lists

    def _service_load_options(self):
        if self.service != "exact":
            return super()._service_load_options()
        self.ensure_one()
        Option = self.env["bookkeeping.remote.option"]
        if not self.administration_code:
            with self._session() as client:
                me = client.me()
                client.division = int(me.get("CurrentDivision") or 0)
                self._exact_load_divisions(client, me)
        # A new session: the client of the division that was chosen just now.
        with self._session() as client:
            Option._sync_kind(
                self,
                "vat_code",
                [
                    {
                        "code": row["Code"],
                        "name": row.get("Description"),
                        "percentage": float(row.get("Percentage") or 0.0) * 100.0,
                        "remote_type": row.get("Type"),
                        "active": not row.get("IsBlocked"),
                        "extra": {
                            "ID": row.get("ID"),
                            "transaction": row.get("VATTransactionType"),
                        },
                    }
                    for row in client.vat_codes()
                    if row.get("VATTransactionType") != "P"
                ],
            )
            Option._sync_kind(
                self,
                "journal",
                [
                    {
                        "code": row["Code"],
                        "name": row.get("Description"),
                        "remote_type": str(row.get("Type") or ""),
                        "extra": {"ID": row.get("ID")},
                    }
                    for row in client.journals()
                ],
            )
            Option._sync_kind(
                self,
                "gl_account",
                [
                    {
                        "code": row["Code"],
                        "name": row.get("Description"),
                        "remote_type": str(row.get("Type") or ""),
                        "extra": {"ID": row.get("ID"), "VATCode": row.get("VATCode")},
                    }
                    for row in client.gl_accounts()
                ],
            )
            Option._sync_kind(
                self,
                "item",
                [
                    {
                        "code": row["Code"],
                        "name": row.get("Description"),
                        "extra": {"ID": row.get("ID"), "VATCode": row.get("SalesVatCode")},
                    }
                    for row in client.items()
                ],
            )
            Option._sync_kind(
                self,
                "payment_condition",
                [
                    {
                        "code": row["Code"],
                        "name": row.get("Description"),
                        "extra": {"ID": row.get("ID"), "days": row.get("PaymentDays")},
                    }
                    for row in client.payment_conditions()
                ],
            )
            # remote_type "exact": the division's own list; "division": only its currency,
            # when the list cannot be read (then Exact itself judges other currencies).
            currencies = {
                row["Code"]: (row.get("Description"), "exact") for row in client.currencies()
            }
            currencies.setdefault(self.exact_division_currency or "EUR", (False, "division"))
            Option._sync_kind(
                self,
                "currency",
                [
                    {"code": code, "name": name or code, "remote_type": origin}
                    for code, (name, origin) in currencies.items()
                ],
            )
        self._service_suggest_defaults()

    def _service_capabilities(self):
        if self.service != "exact":
            return super()._service_capabilities()
        return frozenset({"push", "partners", "oauth", "collective"})

    def _service_vat_code_fits(self, tax, option):
        # Exact VAT types: E excludes VAT, I includes it; a code without a type fits both.
        if self.service != "exact":
            return super()._service_vat_code_fits(tax, option)
        return option.remote_type != ("E" if tax.price_include else "I")

    # ------------------------------------------------------------------ the screens

    def _service_vat_code_scope(self, option):
        # Exact's VAT codes say their scope only in words (sandbox and real lists alike);
        # EUSalesListing, when read, marks the codes of the EU sales listing (ICP).
        if self.service != "exact":
            return super()._service_vat_code_scope(option)
        extra = option.extra or {}
        if extra.get("EUSalesListing") in ("L", "S", "T"):
            return "eu"
        return self._scope_from_words(option.name)

    def _service_option_is_income(self, option):
        if self.service != "exact":
            return super()._service_option_is_income(option)
        return option.remote_type in EXACT_INCOME_TYPES

    def _service_option_type_label(self, option):
        if self.service != "exact":
            return super()._service_option_type_label(option)
        _ = self.env._
        labels = {
            "journal": {
                "10": _("Cash"),
                "12": _("Bank"),
                "20": _("Sales journal"),
                "21": _("Return invoices"),
                "22": _("Purchase journal"),
                "23": _("Return purchase invoices"),
                "90": _("General journal"),
            },
            "vat_code": {
                "E": _("Excluding VAT"),
                "I": _("Including VAT"),
                "B": _("Zero rate or reverse charge"),
                "N": _("No VAT"),
            },
            "gl_account": {
                "10": _("Cash"),
                "12": _("Bank"),
                "20": _("Accounts receivable"),
                "22": _("Accounts payable"),
                "24": _("VAT"),
                "110": _("Revenue"),
                "121": _("Other costs"),
                "90": _("General"),
            },
            "currency": {
                "exact": _("Currency list of the division"),
                "division": _("Currency of the division"),
            },
        }
        return labels.get(option.kind, {}).get(option.remote_type) or option.remote_type

    def _service_suggest_defaults(self):
        if self.service != "exact":
            return super()._service_suggest_defaults()
        if not self.exact_journal_id:
            journals = self.option_ids.filtered(
                lambda o: o.kind == "journal" and o.remote_type == SALES_JOURNAL and o.active
            )
            self.exact_journal_id = journals[:1]
        if not self.exact_item_id:
            items = self.option_ids.filtered(lambda o: o.kind == "item" and o.active)
            if len(items) == 1:
                self.exact_item_id = items

    def _service_setup_check(self):
        if self.service != "exact":
            return super()._service_setup_check()
        missing = []
        if not self.administration_code:
            missing.append(self.env._("Choose the Exact division."))
        elif not self.exact_journal_id:
            missing.append(self.env._("Choose the Exact sales journal."))
        if self.invoice_mode == "remote" and self.administration_code and not self.exact_item_id:
            missing.append(
                self.env._("Choose the Exact default item (for lines whose product has no item).")
            )
        return missing

    def _service_test_connection(self):
        if self.service != "exact":
            return super()._service_test_connection()
        with self._session() as client:
            me = client.me()
            # One counted call on the division: proves access and reads the budget headers.
            client.journals(type=int(SALES_JOURNAL))
        snap = client.rate_limit_snapshot()
        self._store_rate_snapshot(
            {"minute": snap.get("minute_remaining"), "day": snap.get("day_remaining")}
        )
        return self.env._(
            "Division %(division)s (%(name)s), user %(user)s. API calls left today: "
            "%(day)s of %(limit)s; this minute: %(minute)s.",
            division=self.administration_code,
            name=self.administration_name or "",
            user=me.get("FullName") or me.get("UserName") or "?",
            day=snap.get("day_remaining") if snap.get("day_remaining") is not None else "?",
            limit=snap.get("day_limit") or "?",
            minute=snap.get("minute_remaining")
            if snap.get("minute_remaining") is not None
            else "?",
        )

    # ------------------------------------------------------------------ checks

    def _exact_move_lines(self, move):
        return move.invoice_line_ids.filtered(lambda line: line.display_type == "product")

    def _exact_item_for(self, product):
        code = product.default_code
        item = code and self.option_ids.filtered(lambda o: o.kind == "item" and o.code == code)[:1]
        return item or self.exact_item_id

    def _service_check_move(self, move):
        if self.service != "exact":
            return super()._service_check_move(move)
        errors = []
        if not self.administration_code:
            errors.append(
                self.env._("Choose the Exact division on the link %(name)s.", name=self.name)
            )
        if not self.exact_journal_id:
            errors.append(
                self.env._("Choose the Exact sales journal on the link %(name)s.", name=self.name)
            )
        currency = move.currency_id.name
        own = self.exact_division_currency or "EUR"
        if move.company_currency_id.name != own:
            errors.append(
                self.env._(
                    "The company currency %(company)s differs from the currency %(own)s of Exact "
                    "division %(division)s: link the company to a division in its own currency.",
                    company=move.company_currency_id.name,
                    own=own,
                    division=self.administration_code,
                )
            )
        listed = self.option_ids.filtered(
            lambda o: o.kind == "currency" and o.remote_type == "exact"
        )
        if listed and currency != own and currency not in listed.mapped("code"):
            errors.append(
                self.env._(
                    "The currency %(currency)s is not known in Exact division %(division)s. Add "
                    "it in Exact and press Load lists, or invoice in %(own)s.",
                    currency=currency,
                    division=self.administration_code,
                    own=own,
                )
            )
        lines = self._exact_move_lines(move)
        if not lines:
            errors.append(self.env._("The invoice has no lines with an amount."))
        for line in lines:
            label = line.name or line.product_id.display_name or line.account_id.display_name
            if move.currency_id.compare_amounts(line.price_subtotal, 0) <= 0:
                errors.append(
                    self.env._(
                        "Line '%(line)s' has a zero or negative amount. Exact books invoices and "
                        "credit notes as a whole: remove the line or make a separate credit note.",
                        line=label,
                    )
                )
            taxes = line.tax_ids
            if len(taxes) != 1:
                errors.append(
                    self.env._(
                        "Line '%(line)s' needs exactly one tax (Exact takes one VAT code per "
                        "line); use a 0%% tax for untaxed lines.",
                        line=label,
                    )
                )
            for tax in taxes:
                if not self._mapped_option("tax", tax):
                    errors.append(
                        self.env._(
                            "The tax %(tax)s has no Exact VAT code: map it on the link "
                            "%(name)s (tab VAT code mapping).",
                            tax=tax.display_name,
                            name=self.name,
                        )
                    )
            if self.invoice_mode == "odoo":
                account = line.account_id
                option = self._mapped_option("account", account)
                if not option or not (option.extra or {}).get("ID"):
                    errors.append(
                        self.env._(
                            "The income account %(account)s has no Exact GL account: map it on "
                            "the link %(name)s (tab Account mapping).",
                            account=account.display_name,
                            name=self.name,
                        )
                    )
            elif not self._exact_item_for(line.product_id):
                errors.append(
                    self.env._(
                        "Line '%(line)s' has no Exact item: choose a default item on the link "
                        "%(name)s, or give the product the code of an Exact item.",
                        line=label,
                        name=self.name,
                    )
                )
        # Cash rounding, early payment discount and discount lines: sent like the others.
        remote = self.invoice_mode == "remote"
        document = move._bookkeeping_document()
        errors += self._document_errors(
            document, lambda line: not remote or line["kind"] in EXACT_OWN_ACCOUNT_KINDS
        )
        extra = [line for line in document["lines"] if line["kind"] != "product"]
        if remote and extra and not self.exact_item_id:
            errors.append(
                self.env._(
                    "Choose a default item on the link %(name)s: Exact takes the %(kind)s line "
                    "of this invoice on it.",
                    name=self.name,
                    kind=self._document_kind_label(extra[0]["kind"]),
                )
            )
        # The same message for every line of the same problem is noise.
        return list(dict.fromkeys(errors))

    # ------------------------------------------------------------------ push

    def _service_push_move(self, client, move):
        if self.service != "exact":
            return super()._service_push_move(client, move)
        if move.bookkeeping_remote_id:
            # Booked before (e.g. a total mismatch was reported): never create it twice.
            found = self._service_find_move(client, move)
            if found:
                return found
        customer = self._ensure_remote_partner(client, move.partner_id)
        if self.invoice_mode == "remote":
            return self._exact_push_sales_invoice(client, move, customer)
        return self._exact_push_sales_entry(client, move, customer)

    def _exact_status(self, status):
        """Exact's status code as the shared remote status (10 draft, 20 open, 50
        processed)."""
        if not status:
            return None
        return {10: "draft", 20: "open", 50: "booked"}.get(int(status), "other")

    def _exact_sign(self, move):
        return -1 if move.move_type == "out_refund" else 1

    def _exact_header(self, move, customer_field, customer):
        vals = {
            "Journal": self.exact_journal_id.code,
            customer_field: customer,
            "YourRef": move.name,
            "Description": (move.ref or move.name or "")[:60],
            "Currency": move.currency_id.name,
        }
        if move.invoice_date_due:
            vals["DueDate"] = move.invoice_date_due.isoformat()
        condition = move.invoice_payment_term_id and self._mapped_option(
            "payment_term", move.invoice_payment_term_id
        )
        if condition:
            vals["PaymentCondition"] = condition.code
        return vals

    def _exact_note_texts(self, move):
        """Note and section texts, keyed by the product line they stand above."""
        notes = defaultdict(list)
        pending = []
        for line in move.invoice_line_ids.sorted("sequence"):
            if line.display_type in NOTE_TYPES:
                if line.name:
                    pending.append(line.name)
            elif line.display_type == "product" and pending:
                notes[line.id] += pending
                pending = []
        return notes, pending

    def _exact_push_sales_entry(self, client, move, customer):
        document = move._bookkeeping_document()
        lines = document["lines"]
        notes, trailing = self._exact_note_texts(move)
        if self.note_lines == "skip":
            notes, trailing = {}, []
        vals = self._exact_header(move, "Customer", customer)
        vals["EntryDate"] = (move.invoice_date or move.date).isoformat()
        vats = [line["vat"] for line in lines]
        if move.currency_id != move.company_id.currency_id and move.invoice_currency_rate:
            # Exact: AmountDC = AmountFC x Rate per line; the rate makes those Odoo's.
            vals["Rate"], vats = exact_entry_rate(document, move.invoice_currency_rate)
        entry_lines = []
        for line, vat in zip(lines, vats, strict=True):
            entry_line = {
                "GLAccount": self._mapped_option("account", line["account"]).extra["ID"],
                "AmountFC": line["amount"],
                "VATCode": self._document_vat_code(line),
                # Odoo's VAT per tax, spread over the lines: Exact would round per line.
                "VATAmountFC": vat,
                "Description": (line["name"] or "")[:60],
                "Quantity": line["quantity"],
            }
            if notes.get(line["line"].id):
                entry_line["Notes"] = "\n".join(notes[line["line"].id])
            entry_lines.append(entry_line)
        if trailing and entry_lines:
            entry_lines[-1]["Notes"] = "\n".join(
                filter(None, [entry_lines[-1].get("Notes"), *trailing])
            )
        vals["SalesEntryLines"] = entry_lines
        if self.attach_pdf:
            document_id = self._exact_pdf_document(client, move, customer)
            if document_id:
                vals["Document"] = document_id
        entry = client.create_sales_entry(vals)
        return self._exact_entry_result(move, entry, document)

    def _exact_entry_result(self, move, entry, document=None):
        """Result of a booked entry. A total that differs from Odoo's (in the invoice or
        the company currency) flags the invoice; the entry exists and is never made twice."""
        document = document or move._bookkeeping_document()
        move._bookkeeping_write({"bookkeeping_remote_id": entry["EntryID"]})
        amount = entry.get("AmountFC")
        differs = amount is not None and float_compare(float(amount), document["total"], 2) != 0
        foreign = move.currency_id != move.company_currency_id
        amount_company = entry.get("AmountDC")
        if (
            foreign
            and amount_company is not None
            and float_compare(float(amount_company), document["total_company"], 2) != 0
        ):
            differs = True
        if differs:
            self._flag_remote_total(
                move,
                self.env._(
                    "Exact booked entry %(number)s with a total of %(remote)s (%(remote_dc)s in "
                    "%(company)s) while Odoo's total is %(odoo)s (%(odoo_dc)s). Correct the entry "
                    "in Exact (check the VAT code mapping); it is not sent again.",
                    number=entry.get("EntryNumber") or entry["EntryID"],
                    remote=amount,
                    remote_dc=amount_company,
                    company=move.company_currency_id.name,
                    odoo=document["total"],
                    odoo_dc=document["total_company"],
                ),
            )
        return {
            "remote_id": entry["EntryID"],
            "state": "done",
            "remote_number": str(entry["EntryNumber"]) if entry.get("EntryNumber") else None,
            "remote_status": self._exact_status(entry.get("Status")),
            "remote_amount": abs(float(amount)) if amount is not None else None,
        }

    def _exact_pdf_document(self, client, move, customer):
        """The Exact document that holds the invoice PDF, or None when there is none to
        give: the PDF cannot be made now (flagged 'to attach', a later run attaches it) or
        Exact refused the file (flagged 'not attached'). The entry is booked either way.
        A document already made for this invoice (an earlier try) is reused, not copied."""
        if move.bookkeeping_pdf_remote_id and move.bookkeeping_pdf_state == "attached":
            return move.bookkeeping_pdf_remote_id
        pdf = self._invoice_pdf(move)
        if not pdf:
            return None
        filename, content = pdf
        document_id = move.bookkeeping_pdf_remote_id
        try:
            if not document_id:
                document_id = client.create_document(move.name, customer, type=10)["ID"]
                move._bookkeeping_write({"bookkeeping_pdf_remote_id": document_id})
            client.create_document_attachment(document_id, filename, content)
        except client_errors.ValidationError as error:
            # E.g. a file over Exact's 10 MB: trying again will not help.
            move._bookkeeping_pdf_done(
                "failed",
                self.env._(
                    "Exact refused the PDF %(file)s: %(msg)s Attach it in Exact by hand.",
                    file=filename,
                    msg=error.remote_message or error,
                ),
            )
            move._message_log(body=move.bookkeeping_pdf_error)
            return None
        # The document has its file; the state says so, so a retry reuses the document.
        move._bookkeeping_pdf_done("attached")
        return document_id

    def _service_attach_pdf(self, client, move, **options):
        """Hook ``attach_pdf``: the PDF of an entry booked without one, attached now (the
        document, then a PUT of the entry's Document)."""
        if self.service != "exact":
            return super()._service_attach_pdf(client, move, **options)
        if (
            move.bookkeeping_invoice_mode or self.invoice_mode
        ) != "odoo" or not move.bookkeeping_remote_id:
            move._bookkeeping_pdf_done(False)  # Exact makes its own PDF of its invoices
            return
        customer = self._partner_remote_id(move.partner_id.commercial_partner_id)
        document_id = self._exact_pdf_document(client, move, customer or None)
        if not document_id:
            return
        client._put(
            f"salesentry/SalesEntries({literal(Guid(move.bookkeeping_remote_id))})",
            {"Document": document_id},
        )
        move._message_log(body=self.env._("The invoice PDF was attached in Exact."))

    def _exact_push_sales_invoice(self, client, move, customer):
        document = move._bookkeeping_document()
        sign = document["sign"]
        vals = self._exact_header(move, "OrderedBy", customer)
        vals["Type"] = REMOTE_CREDIT_NOTE if sign < 0 else REMOTE_INVOICE
        if move.invoice_date:
            vals["InvoiceDate"] = move.invoice_date.isoformat()
        by_line = {line["line"].id: line for line in document["lines"]}
        invoice_lines = []
        for aml in move.invoice_line_ids.sorted("sequence"):
            if aml.display_type in NOTE_TYPES:
                if self.note_lines == "text" and aml.name and self.exact_item_id:
                    invoice_lines.append(
                        {
                            "Item": self.exact_item_id.extra["ID"],
                            "Quantity": 0,
                            "UnitPrice": 0,
                            "Description": aml.name[:60],
                        }
                    )
                continue
            if aml.id in by_line:
                invoice_lines.append(self._exact_invoice_line(by_line[aml.id], sign))
        invoice_lines += [
            self._exact_invoice_line(line, sign)
            for line in document["lines"]
            if line["kind"] != "product"
        ]
        vals["SalesInvoiceLines"] = invoice_lines
        invoice = client.create_sales_invoice(vals)
        move._bookkeeping_write({"bookkeeping_remote_id": invoice["InvoiceID"]})
        return self._exact_invoice_result(
            client, move, invoice, allow_print=True, document=document
        )

    def _exact_invoice_line(self, line, sign):
        """A SalesInvoiceLine of a document line: on its item (discounts and cash rounding
        on the default item), with Odoo's VAT amount, so Exact computes no VAT of its own."""
        if line["kind"] == "product":
            item = self._exact_item_for(line["line"].product_id)
            quantity = line["quantity"] or 1.0
        else:
            item, quantity = self.exact_item_id, 1.0
        invoice_line = {
            "Item": item.extra["ID"],
            "Quantity": sign * quantity,
            # Net price per unit excl. VAT: discounts and tax-included prices are folded in;
            # AmountFC makes the line amount Odoo's to the cent.
            "UnitPrice": round(sign * line["amount"] / quantity, 6),
            "AmountFC": line["amount"],
            "VATCode": self._document_vat_code(line),
            "VATAmountFC": line["vat"],
            "Description": (line["name"] or "")[:60],
        }
        if line["kind"] in EXACT_OWN_ACCOUNT_KINDS:
            invoice_line["GLAccount"] = self._mapped_option("account", line["account"]).extra["ID"]
        return invoice_line

    def _exact_invoice_result(self, client, move, invoice, allow_print=False, document=None):
        document = document or move._bookkeeping_document()
        result = {
            "remote_id": invoice["InvoiceID"],
            "state": "sent_draft",
            "remote_ref": str(invoice["OrderNumber"]) if invoice.get("OrderNumber") else None,
            "remote_status": self._exact_status(invoice.get("Status")),
            "remote_amount": abs(float(invoice["AmountFC"]))
            if invoice.get("AmountFC") is not None
            else None,
        }
        status = int(invoice.get("Status") or 0)
        amount = invoice.get("AmountFC")
        if amount is not None and float_compare(float(amount), document["total"], 2) != 0:
            # Not processed: an open invoice can still be corrected in Exact.
            allow_print = False
            self._flag_remote_total(
                move,
                self.env._(
                    "Exact computed a total of %(remote)s for invoice (order) %(ref)s while Odoo's "
                    "total is %(odoo)s. Correct it in Exact before processing it (check the VAT "
                    "codes of the items and the VAT code mapping).",
                    remote=amount,
                    ref=result["remote_ref"] or invoice["InvoiceID"],
                    odoo=document["total"],
                ),
            )
        if allow_print and self.exact_print_invoices and status < PROCESSED:
            try:
                client.print_sales_invoice(invoice["InvoiceID"])
                invoice = client.sales_invoices_by_ids([invoice["InvoiceID"]])[0]
                status = int(invoice.get("Status") or 0)
                result["remote_status"] = self._exact_status(status)
            except (client_errors.AuthExpired, client_errors.RateLimited):
                raise
            except (client_errors.BookkeepingError, IndexError) as error:
                # The invoice exists: keep it as a draft; the number sync processes it later.
                move._message_log(
                    body=self.env._(
                        "Exact created the invoice but could not process it yet: %(error)s",
                        error=error,
                    )
                )
        if invoice.get("InvoiceNumber") and status >= PROCESSED:
            result.update(state="done", remote_number=str(invoice["InvoiceNumber"]))
        return result

    def _service_find_move(self, client, move):
        if self.service != "exact":
            return super()._service_find_move(client, move)
        if self.invoice_mode == "remote":
            rows = [
                r
                for r in client.sales_invoices_by_your_ref([move.name])
                if r.get("YourRef") == move.name
            ]
            if not rows:
                return None
            move._bookkeeping_write({"bookkeeping_remote_id": rows[0]["InvoiceID"]})
            return self._exact_invoice_result(client, move, rows[0], allow_print=True)
        rows = [
            r
            for r in client.sales_entries_by_your_ref([move.name])
            if r.get("YourRef") == move.name
        ]
        return self._exact_entry_result(move, rows[0]) if rows else None

    # ------------------------------------------------------------------ collective booking

    def _service_collective_customer(self, client, code):
        if self.service != "exact":
            return super()._service_collective_customer(client, code)
        rows = client.accounts_by_field("Code", [code], select="ID,Code,Name")
        return rows[0]["ID"] if len(rows) == 1 else None

    def _service_check_collective_move(self, move, document):
        if self.service != "exact":
            return super()._service_check_collective_move(move, document)
        errors = []
        if not self.administration_code or not self.exact_journal_id:
            errors.append(
                self.env._(
                    "Choose the Exact division and sales journal on the link %(name)s.",
                    name=self.name,
                )
            )
        errors += self._document_errors(document, lambda line: True, products=True)
        for line in document["lines"]:
            option = self._mapped_option("account", line["account"])
            if option and not (option.extra or {}).get("ID"):
                errors.append(
                    self.env._(
                        "The income account %(account)s has no Exact GL account: map it on the "
                        "link %(name)s (tab Account mapping).",
                        account=line["account"].display_name,
                        name=self.name,
                    )
                )
        return errors

    def _exact_collective_lines(self, entry):
        """Odoo's summed amounts with their VAT, never recomputed (Exact would round VAT
        per line); GL accounts by GUID."""
        return [
            {
                "GLAccount": gl_account,
                "AmountFC": base,
                "VATCode": code,
                "VATAmountFC": vat,
                "Description": entry._remote_description()[:60],
            }
            for code, gl_account, base, vat in entry._remote_lines(
                lambda option: (option.extra or {}).get("ID")
            )
        ]

    def _service_push_collective(self, client, entry, customer):
        if self.service != "exact":
            return super()._service_push_collective(client, entry, customer)
        vals = {
            "Journal": self.exact_journal_id.code,
            "Customer": customer,
            "EntryDate": entry.date.isoformat(),
            "YourRef": entry.reference,
            "Description": entry._remote_description()[:60],
            "Currency": entry.currency_id.name,
            "SalesEntryLines": self._exact_collective_lines(entry),
        }
        return self._exact_collective_result(client.create_sales_entry(vals))

    def _service_find_collective(self, client, entry):
        if self.service != "exact":
            return super()._service_find_collective(client, entry)
        rows = [
            r
            for r in client.sales_entries_by_your_ref([entry.reference])
            if r.get("YourRef") == entry.reference
        ]
        return self._exact_collective_result(rows[0]) if rows else None

    def _exact_collective_result(self, row):
        amount = row.get("AmountFC")
        return {
            "remote_id": row["EntryID"],
            "remote_number": str(row["EntryNumber"]) if row.get("EntryNumber") else None,
            "remote_amount": float(amount) if amount is not None else None,
        }

    # ------------------------------------------------------------------ sync back

    @api.model
    def _exact_filter_groups(self, client, path, field, values, select):
        """``field eq a or field eq b ...`` filters as long as Exact's 6000-character URL
        allows: about 85 GUIDs or 150 references per call instead of 40."""
        budget = MAX_URL - len(client.api(path)) - len(quote(select, safe="")) - 300
        return or_groups(field, values, max_values=1000, max_chars=budget)

    def _exact_bulk(self, client, path, field, values, select):
        """Rows of a bulk endpoint (1000 per page) whose ``field`` is one of ``values``.

        A division without the ``bulk/`` endpoint answers 404: the CRUD endpoint of the same
        entity (60 per page) gives the same rows. The client remembers it for the run, so
        the 404 is met once, not once per group (Exact blocks a key after 10 errors on an
        endpoint in an hour)."""
        missing = client.__dict__.setdefault("bookkeeping_missing_bulk", set())
        if path.startswith("bulk/") and path not in missing:
            try:
                return self._exact_grouped_rows(client, path, field, values, select)
            except client_errors.NotFound:
                missing.add(path)
                _logger.info("%s: %s answered 404; using the CRUD endpoint", self.name, path)
        if path.startswith("bulk/"):
            service, _, entity = path[len("bulk/") :].partition("/")
            path = f"{service.lower()}/{entity}"
        return self._exact_grouped_rows(client, path, field, values, select)

    def _exact_grouped_rows(self, client, path, field, values, select):
        rows = []
        for group in self._exact_filter_groups(client, path, field, values, select):
            rows.extend(client._collection(path, select=select, filter=group))
        return rows

    def _service_sync_numbers(self, client, moves):
        """Numbers of the drafts, ~40 invoices per call; processes open ones when asked."""
        if self.service != "exact":
            return super()._service_sync_numbers(client, moves)
        moves = moves.filtered("bookkeeping_remote_id")
        by_id = {move.bookkeeping_remote_id.lower(): move for move in moves}
        rows = self._exact_bulk(
            client, "bulk/SalesInvoice/SalesInvoices", "InvoiceID", list(by_id), INVOICE_SELECT
        )
        to_print = []
        for row in rows:
            move = by_id.get(str(row.get("InvoiceID") or "").lower())
            if not move:
                continue
            status = int(row.get("Status") or 0)
            vals = {"bookkeeping_remote_status": self._exact_status(status)}
            if row.get("InvoiceNumber"):
                vals["bookkeeping_remote_number"] = str(row["InvoiceNumber"])
                if status >= PROCESSED:
                    vals["bookkeeping_state"] = "done"
            elif (
                self.exact_print_invoices
                and status < PROCESSED
                and float_compare(
                    float(row.get("AmountFC") or 0.0), move.amount_total_in_currency_signed, 2
                )
                == 0
            ):
                # Only one whose total is Odoo's: a flagged one waits for its correction.
                to_print.append(row["InvoiceID"])
            move._bookkeeping_write(vals)
        for invoice_id in to_print:
            # Only after an earlier print failed: one call each, numbers come next sync.
            try:
                client.print_sales_invoice(invoice_id)
            except client_errors.ValidationError as error:
                by_id[invoice_id.lower()]._message_log(body=str(error))

    def _service_sync_payments(self, client, moves):
        """Payment state from ``bulk/Cashflow/Receivables`` (1000 rows per page), in
        or-groups of ~40 of our keys: the entry id, or our reference for Exact's invoices."""
        if self.service != "exact":
            return super()._service_sync_payments(client, moves)

        # The mode each invoice was sent in: the link's mode may have changed since.
        def mode(move):
            return move.bookkeeping_invoice_mode or self.invoice_mode

        entries = moves.filtered(lambda m: m.bookkeeping_remote_id and mode(m) == "odoo")
        invoices = moves.filtered(lambda m: mode(m) == "remote" and m.bookkeeping_state == "done")
        found = defaultdict(list)
        if entries:
            by_id = {m.bookkeeping_remote_id.lower(): m for m in entries}
            for row in self._exact_bulk(
                client,
                "bulk/Cashflow/Receivables",
                "TransactionEntryID",
                list(by_id),
                RECEIVABLE_SELECT,
            ):
                move = by_id.get(str(row.get("TransactionEntryID") or "").lower())
                if move:
                    found[move].append(row)
        if invoices:
            by_ref = {m.name: m for m in invoices}
            for row in self._exact_bulk(
                client, "bulk/Cashflow/Receivables", "YourRef", list(by_ref), RECEIVABLE_SELECT
            ):
                move = by_ref.get(row.get("YourRef"))
                if move:
                    found[move].append(row)
        partial = [
            move
            for move, rows in found.items()
            if any(r.get("LastPaymentDate") and not r.get("IsFullyPaid") for r in rows)
        ]
        open_amount = defaultdict(float)
        if partial:
            # Receivables keep the full amount; the open part is only in ReceivablesList.
            for row in self._exact_bulk(
                client,
                "read/financial/ReceivablesList",
                "YourRef",
                [m.name for m in partial],
                "YourRef,Amount",
            ):
                open_amount[row.get("YourRef")] += float(row.get("Amount") or 0.0)
        for move, rows in found.items():
            if all(row.get("IsFullyPaid") for row in rows):
                state, residual = "paid", 0.0
            elif move in partial:
                state, residual = "partial", abs(open_amount.get(move.name, 0.0))
            else:
                state = "open"
                residual = abs(sum(float(row.get("AmountFC") or 0.0) for row in rows))
            move._bookkeeping_write(
                {"bookkeeping_remote_payment_state": state, "bookkeeping_remote_residual": residual}
            )

    def _service_remote_url(self, move):
        if self.service != "exact":
            return super()._service_remote_url(move)
        host = self._exact_host()
        div, key = self.administration_code, move.bookkeeping_remote_id
        if (move.bookkeeping_invoice_mode or self.invoice_mode) == "remote":
            return f"{host}/docs/SalesInvoice.aspx?_Division_={div}&InvoiceID={key}"
        return f"{host}/docs/SalesEntry.aspx?_Division_={div}&EntryID={key}"

    # ------------------------------------------------------------------ partners

    def _service_partner_vals(self, partner):
        """The account fields that Odoo has a value for. An empty Odoo field is left out, so
        it never blanks what the accountant entered in Exact."""
        if self.service != "exact":
            return super()._service_partner_vals(partner)
        vals = {
            "Name": partner.name,
            "Email": partner.email,
            "VATNumber": partner.vat,
            "ChamberOfCommerce": partner.company_registry,
            "AddressLine1": partner.street,
            "Postcode": partner.zip,
            "City": partner.city,
            "Country": partner.country_id.code,
        }
        return {key: value for key, value in vals.items() if value}

    def _service_push_partner(self, client, partner, vals, update):
        """Link, create or update the account (see ``_push_partner``).

        A found account is only linked. Exact's PUT keeps the fields it is not sent
        (exact-online.md §3), so an update sends just the fields Odoo has a value for.
        """
        if self.service != "exact":
            return super()._service_push_partner(client, partner, vals, update)
        remote_id = self._partner_remote_id(partner)
        if remote_id and update:
            try:
                client.update_account(remote_id, vals)
                code = self._partner_link(partner).remote_code
                return {"remote_id": remote_id, "code": code, "outcome": "updated"}
            except client_errors.NotFound:
                pass  # deleted in Exact: find it again, or create it again
        elif remote_id:
            rows = client.accounts_by_field("ID", [Guid(remote_id)])
            if rows:
                return {"remote_id": remote_id, "code": rows[0].get("Code"), "outcome": "kept"}
        # Look before creating: a create whose answer got lost must not make a twin.
        existing = self._exact_find_account(client, partner)
        if existing:
            return {"remote_id": existing["ID"], "code": existing.get("Code"), "outcome": "linked"}
        account = client.create_account(dict(vals, Status="C"))
        return {"remote_id": account["ID"], "code": account.get("Code"), "outcome": "created"}

    def _exact_find_account(self, client, partner):
        for field, value in (
            ("VATNumber", partner.vat),
            ("Email", partner.email),
            ("Name", partner.name),
        ):
            if not value:
                continue
            rows = [
                r
                for r in client.accounts_by_field(field, [value])
                if r.get("Status") in (None, "C")
            ]
            if len(rows) == 1 or (rows and field == "VATNumber"):
                return rows[0]
        return None

    def _service_fetch_customers(self, client):
        if self.service != "exact":
            return super()._service_fetch_customers(client)
        return [
            {
                "remote_id": row["ID"],
                "code": (row.get("Code") or "").strip(),
                "name": row.get("Name"),
                "vat": row.get("VATNumber"),
                "coc": row.get("ChamberOfCommerce"),
                "email": row.get("Email"),
                "street": row.get("AddressLine1"),
                "zip": row.get("Postcode"),
                "city": row.get("City"),
                "country_code": (row.get("Country") or "").strip() or False,
                "raw": row,
            }
            for row in client.accounts_where("Status eq 'C'")
        ]

    def _service_partner_match_keys(self):
        if self.service != "exact":
            return super()._service_partner_match_keys()
        return ["vat", "coc", "email", "name"]
