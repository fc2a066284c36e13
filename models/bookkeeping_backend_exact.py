"""Exact Online service of the bookkeeping link (hooks ``_exact_<hook>``, see
doc/contracts.md). API facts: /work/shared/api/exact-online.md.

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
from urllib.parse import quote

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_round

from ..clients import errors as client_errors
from ..clients.exact import HOSTS, MAX_URL, ExactClient, or_groups
from ..clients.oauth import MemoryTokenStore
from ..clients.ratelimit import limiter_for

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
PROCESSED = 50  # SalesInvoices Status: 10 draft, 20 open, 50 processed
REMOTE_CREDIT_NOTE = 8021
REMOTE_INVOICE = 8020
NOTE_TYPES = ("line_section", "line_subsection", "line_note")
INVOICE_SELECT = "InvoiceID,InvoiceNumber,YourRef,Status,AmountFC"
RECEIVABLE_SELECT = (
    "ID,TransactionEntryID,InvoiceNumber,YourRef,IsFullyPaid,Status,AmountDC,AmountFC,"
    "LastPaymentDate")


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    service = fields.Selection(
        selection_add=[("exact", "Exact Online")], ondelete={"exact": "cascade"})
    exact_location = fields.Selection(
        EXACT_LOCATIONS, "Exact location", default="nl",
        help="The country site of the Exact Online account; data and tokens stay on it. "
        "Sandbox: a test server at the base URL you enter.")
    exact_base_url = fields.Char(
        "Exact base URL", compute="_compute_exact_base_url", store=True, readonly=False,
        help="Follows the location. With the location Sandbox, the address of the test "
        "server (e.g. http://localhost:8079/exact for ./run sandbox).")
    exact_division_id = fields.Many2one(
        "bookkeeping.remote.option", "Exact division",
        domain="[('backend_id', '=', id), ('kind', '=', 'administration')]",
        compute="_compute_exact_division_id", inverse="_inverse_exact_division_id",
        help="The Exact division (administration) the invoices go to. Chosen once from the "
        "divisions of the user; switching company in the Exact web site changes nothing.",
    )
    exact_division_currency = fields.Char("Division currency", default="EUR", copy=False)
    exact_journal_id = fields.Many2one(
        "bookkeeping.remote.option", "Exact sales journal",
        domain="[('backend_id', '=', id), ('kind', '=', 'journal'), "
        "('remote_type', '=', '20')]",
    )
    exact_item_id = fields.Many2one(
        "bookkeeping.remote.option", "Exact default item",
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
                lambda o, b=backend: o.kind == "administration"
                and o.code == b.administration_code)[:1]

    def _inverse_exact_division_id(self):
        for backend in self:
            option = backend.exact_division_id
            if option and option.code != backend.administration_code:
                backend._exact_set_division(option)

    def _exact_set_division(self, option):
        """Remember the chosen division; every call afterwards uses it (never CurrentDivision)."""
        self.write({
            "administration_code": option.code,
            "administration_name": option.name,
            "exact_division_currency": (option.extra or {}).get("Currency") or "EUR",
        })

    # ------------------------------------------------------------------ client and OAuth

    def _exact_host(self):
        url = self.exact_base_url or HOSTS.get(self.exact_location or "nl")
        if not url:
            raise UserError(self.env._("Enter the Exact base URL of the test server."))
        return url.rstrip("/")

    def _exact_oauth(self, token_store, on_call=None):
        backend = self.sudo()
        return ExactClient.make_oauth(
            self._exact_host(), backend.client_id or "", backend.client_secret or "",
            token_store, on_call=on_call)

    def _exact_make_client(self, on_call=None, division=None):
        self.ensure_one()
        division = int(division or self.administration_code or 0)
        return ExactClient(
            self._exact_host(), division, self._exact_oauth(self._token_store(), on_call),
            limiter=limiter_for(("exact", division)), on_call=on_call)

    def _exact_authorization_url(self, state, redirect_uri):
        return self._exact_oauth(MemoryTokenStore()).authorization_url(
            redirect_uri, state, force_login=0)

    def _exact_exchange_code(self, code, redirect_uri):
        # The core stores the pair on the callback's transaction.
        return self._exact_oauth(MemoryTokenStore()).fetch_token(code, redirect_uri)

    def _exact_refresh_token(self):
        client = self._exact_make_client(on_call=self._log_collector())
        try:
            client.oauth.refresh(force=True)
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)

    def _exact_after_connect(self):
        """Load the divisions so the manager can choose; preselect a sensible one."""
        collector = self._log_collector()
        client = self._exact_make_client(on_call=collector, division=0)
        client.bookkeeping_log = collector
        try:
            me = client.me()
            client.division = int(me.get("CurrentDivision") or 0)
            self._exact_load_divisions(client, me)
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)

    def _exact_load_divisions(self, client, me=None):
        rows = client.divisions()
        self.env["bookkeeping.remote.option"]._sync_kind(self, "administration", [{
            "code": str(row["Code"]),
            "name": row.get("Description") or str(row["Code"]),
            "extra": {"Currency": row.get("Currency"), "Country": row.get("Country"),
                      "Hid": row.get("Hid") or row.get("HID")},
        } for row in rows])
        if self.administration_code:
            return
        divisions = self.option_ids.filtered(lambda o: o.kind == "administration")
        current = str((me or {}).get("CurrentDivision") or "")
        # The division open in the web site is only a first suggestion, stored once.
        choice = divisions.filtered(lambda o: o.code == current)[:1] or divisions[:1]
        if choice:
            self._exact_set_division(choice)

    # ------------------------------------------------------------------ lists

    def _exact_load_options(self):
        self.ensure_one()
        collector = self._log_collector()
        client = self._exact_make_client(on_call=collector)
        client.bookkeeping_log = collector
        Option = self.env["bookkeeping.remote.option"]
        try:
            if not self.administration_code:
                me = client.me()
                client.division = int(me.get("CurrentDivision") or 0)
                self._exact_load_divisions(client, me)
                client = self._exact_make_client(on_call=collector)
                client.bookkeeping_log = collector
            Option._sync_kind(self, "vat_code", [{
                "code": row["Code"], "name": row.get("Description"),
                "percentage": float(row.get("Percentage") or 0.0) * 100.0,
                "remote_type": row.get("Type"),
                "active": not row.get("IsBlocked"),
                "extra": {"ID": row.get("ID"), "transaction": row.get("VATTransactionType")},
            } for row in client.vat_codes() if row.get("VATTransactionType") != "P"])
            Option._sync_kind(self, "journal", [{
                "code": row["Code"], "name": row.get("Description"),
                "remote_type": str(row.get("Type") or ""), "extra": {"ID": row.get("ID")},
            } for row in client.journals()])
            Option._sync_kind(self, "gl_account", [{
                "code": row["Code"], "name": row.get("Description"),
                "remote_type": str(row.get("Type") or ""),
                "extra": {"ID": row.get("ID"), "VATCode": row.get("VATCode")},
            } for row in client.gl_accounts()])
            Option._sync_kind(self, "item", [{
                "code": row["Code"], "name": row.get("Description"),
                "extra": {"ID": row.get("ID"), "VATCode": row.get("SalesVatCode")},
            } for row in client.items()])
            Option._sync_kind(self, "payment_condition", [{
                "code": row["Code"], "name": row.get("Description"),
                "extra": {"ID": row.get("ID"), "days": row.get("PaymentDays")},
            } for row in client.payment_conditions()])
            # remote_type "exact": the division's own list; "division": only its currency,
            # when the list cannot be read (then Exact itself judges other currencies).
            currencies = {row["Code"]: (row.get("Description"), "exact")
                          for row in client.currencies()}
            currencies.setdefault(self.exact_division_currency or "EUR", (False, "division"))
            Option._sync_kind(self, "currency", [
                {"code": code, "name": name or code, "remote_type": origin}
                for code, (name, origin) in currencies.items()])
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)
        if not self.exact_journal_id:
            journals = self.option_ids.filtered(
                lambda o: o.kind == "journal" and o.remote_type == SALES_JOURNAL)
            self.exact_journal_id = journals[:1]

    def _exact_test_connection(self):
        client = self._client()
        try:
            me = client.me()
            # One counted call on the division: proves access and reads the budget headers.
            client.journals(type=int(SALES_JOURNAL))
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)
        snap = client.rate_limit_snapshot()
        self._store_rate_snapshot({
            "minute": snap.get("minute_remaining"), "day": snap.get("day_remaining")})
        return self.env._(
            "Division %(division)s (%(name)s), user %(user)s. API calls left today: "
            "%(day)s of %(limit)s; this minute: %(minute)s.",
            division=self.administration_code, name=self.administration_name or "",
            user=me.get("FullName") or me.get("UserName") or "?",
            day=snap.get("day_remaining") if snap.get("day_remaining") is not None else "?",
            limit=snap.get("day_limit") or "?",
            minute=snap.get("minute_remaining")
            if snap.get("minute_remaining") is not None else "?",
        )

    # ------------------------------------------------------------------ checks

    def _exact_move_lines(self, move):
        return move.invoice_line_ids.filtered(lambda line: line.display_type == "product")

    def _exact_item_for(self, product):
        code = product.default_code
        item = code and self.option_ids.filtered(
            lambda o: o.kind == "item" and o.code == code)[:1]
        return item or self.exact_item_id

    def _exact_check_move(self, move):
        errors = []
        if not self.administration_code:
            errors.append(self.env._("Choose the Exact division on the link %(name)s.",
                                     name=self.name))
        if not self.exact_journal_id:
            errors.append(self.env._("Choose the Exact sales journal on the link %(name)s.",
                            name=self.name))
        currency = move.currency_id.name
        own = self.exact_division_currency or "EUR"
        if move.company_currency_id.name != own:
            errors.append(self.env._(
                "The company currency %(company)s differs from the currency %(own)s of Exact "
                "division %(division)s: link the company to a division in its own currency.",
                company=move.company_currency_id.name, own=own,
                division=self.administration_code))
        listed = self.option_ids.filtered(
            lambda o: o.kind == "currency" and o.remote_type == "exact")
        if listed and currency != own and currency not in listed.mapped("code"):
            errors.append(self.env._(
                "The currency %(currency)s is not known in Exact division %(division)s. Add "
                "it in Exact and press Load lists, or invoice in %(own)s.",
                currency=currency, division=self.administration_code, own=own))
        lines = self._exact_move_lines(move)
        if not lines:
            errors.append(self.env._("The invoice has no lines with an amount."))
        for line in lines:
            label = line.name or line.product_id.display_name or line.account_id.display_name
            if move.currency_id.compare_amounts(line.price_subtotal, 0) <= 0:
                errors.append(self.env._(
                    "Line '%(line)s' has a zero or negative amount. Exact books invoices and "
                    "credit notes as a whole: remove the line or make a separate credit note.",
                    line=label))
            taxes = line.tax_ids
            if len(taxes) != 1:
                errors.append(self.env._(
                    "Line '%(line)s' needs exactly one tax (Exact takes one VAT code per "
                    "line); use a 0%% tax for untaxed lines.", line=label))
            for tax in taxes:
                if not self._mapped_option("tax", tax):
                    errors.append(self.env._(
                        "The tax %(tax)s has no Exact VAT code: map it on the link "
                        "%(name)s (tab VAT code mapping).", tax=tax.display_name,
                        name=self.name))
            if self.invoice_mode == "odoo":
                account = line.account_id
                option = self._mapped_option("account", account)
                if not option or not (option.extra or {}).get("ID"):
                    errors.append(self.env._(
                        "The income account %(account)s has no Exact GL account: map it on "
                        "the link %(name)s (tab Account mapping).",
                        account=account.display_name, name=self.name))
            elif not self._exact_item_for(line.product_id):
                errors.append(self.env._(
                    "Line '%(line)s' has no Exact item: choose a default item on the link "
                    "%(name)s, or give the product the code of an Exact item.",
                    line=label, name=self.name))
        # The same message for every line of the same problem is noise.
        return list(dict.fromkeys(errors))

    # ------------------------------------------------------------------ push

    def _exact_push_move(self, client, move):
        if move.bookkeeping_remote_id:
            # Booked before (e.g. a total mismatch was reported): never create it twice.
            found = self._exact_find_move(client, move)
            if found:
                return found
        customer = self._ensure_remote_partner(client, move.partner_id)
        if self.invoice_mode == "remote":
            return self._exact_push_sales_invoice(client, move, customer)
        return self._exact_push_sales_entry(client, move, customer)

    def _exact_status_label(self, status):
        """Exact's status code in words (10 draft, 20 open, 50 processed)."""
        if not status:
            return None
        labels = {10: self.env._("Draft"), 20: self.env._("Open"), 50: self.env._("Processed")}
        return labels.get(int(status), str(status))

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
            "payment_term", move.invoice_payment_term_id)
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

    def _exact_line_vat(self, move, lines, sign):
        """VAT per line (signed, 2 decimals) that sums per tax to Odoo's tax lines exactly.

        Exact would compute VAT per line; Odoo may round per tax group. The difference goes
        on the largest line of that tax, so the entry total equals Odoo's to the cent."""
        digits = move.currency_id.decimal_places
        vat = {
            line.id: float_round(sign * (line.price_total - line.price_subtotal),
                                 precision_digits=digits)
            for line in lines
        }
        for tax in lines.tax_ids:
            tax_lines = lines.filtered(lambda line, t=tax: line.tax_ids == t)
            target = -sum(move.line_ids.filtered(
                lambda aml, t=tax: aml.tax_line_id == t).mapped("amount_currency"))
            diff = float_round(target - sum(vat[line.id] for line in tax_lines),
                               precision_digits=digits)
            if diff and tax_lines:
                largest = max(tax_lines, key=lambda line: abs(line.price_subtotal))
                vat[largest.id] = float_round(vat[largest.id] + diff, precision_digits=digits)
        return vat

    def _exact_push_sales_entry(self, client, move, customer):
        sign = self._exact_sign(move)
        lines = self._exact_move_lines(move)
        vat = self._exact_line_vat(move, lines, sign)
        notes, trailing = self._exact_note_texts(move)
        if self.note_lines == "skip":
            notes, trailing = {}, []
        vals = self._exact_header(move, "Customer", customer)
        vals["EntryDate"] = (move.invoice_date or move.date).isoformat()
        if move.currency_id != move.company_id.currency_id and move.invoice_currency_rate:
            # Exact: AmountDC = AmountFC * Rate; Odoo keeps company -> invoice currency.
            vals["Rate"] = round(1.0 / move.invoice_currency_rate, 6)
        entry_lines = []
        for line in lines:
            tax = line.tax_ids[:1]
            entry_line = {
                "GLAccount": self._mapped_option("account", line.account_id).extra["ID"],
                "AmountFC": round(sign * line.price_subtotal, 2),
                "VATCode": self._mapped_option("tax", tax).code,
                "VATAmountFC": vat[line.id],
                "Description": (line.name or line.product_id.display_name or "")[:60],
                "Quantity": line.quantity,
            }
            if notes.get(line.id):
                entry_line["Notes"] = "\n".join(notes[line.id])
            entry_lines.append(entry_line)
        if trailing and entry_lines:
            entry_lines[-1]["Notes"] = "\n".join(
                filter(None, [entry_lines[-1].get("Notes"), *trailing]))
        vals["SalesEntryLines"] = entry_lines
        if self.attach_pdf:
            vals["Document"] = self._exact_upload_pdf(client, move, customer)
        entry = client.create_sales_entry(vals)
        return self._exact_entry_result(move, entry)

    def _exact_entry_result(self, move, entry):
        """Result of a booked entry; a total that differs from Odoo's is refused loudly."""
        expected = self._exact_sign(move) * move.amount_total
        amount = entry.get("AmountFC")
        # Kept even when the check fails: the entry exists and is never created twice.
        move._bookkeeping_write({"bookkeeping_remote_id": entry["EntryID"]})
        if amount is not None and float_compare(float(amount), expected, 2) != 0:
            raise client_errors.ValidationError(
                self.env._(
                    "Exact booked entry %(number)s with a total of %(remote)s while the "
                    "invoice total is %(odoo)s. Correct the entry in Exact (or check the VAT "
                    "code mapping); the invoice will not be sent again.",
                    number=entry.get("EntryNumber"), remote=amount, odoo=expected),
                remote_message=self.env._("Total differs from Odoo's"))
        return {
            "remote_id": entry["EntryID"],
            "state": "done",
            "remote_number": str(entry["EntryNumber"]) if entry.get("EntryNumber") else None,
            "remote_status": self._exact_status_label(entry.get("Status")),
            "remote_amount": abs(float(amount)) if amount is not None else None,
        }

    def _exact_upload_pdf(self, client, move, customer):
        document = move._get_invoice_legal_documents("pdf", allow_fallback=True) or {}
        content = document.get("content") or b""
        if isinstance(content, str):
            content = content.encode()
        filename = document.get("filename") or f"{move.name.replace('/', '_')}.pdf"
        doc = client.create_document(move.name, customer, type=10)
        client.create_document_attachment(doc["ID"], filename, content)
        return doc["ID"]

    def _exact_push_sales_invoice(self, client, move, customer):
        sign = self._exact_sign(move)
        vals = self._exact_header(move, "OrderedBy", customer)
        vals["Type"] = REMOTE_CREDIT_NOTE if sign < 0 else REMOTE_INVOICE
        if move.invoice_date:
            vals["InvoiceDate"] = move.invoice_date.isoformat()
        invoice_lines = []
        for line in move.invoice_line_ids.sorted("sequence"):
            if line.display_type in NOTE_TYPES:
                if self.note_lines == "text" and line.name and self.exact_item_id:
                    invoice_lines.append({
                        "Item": self.exact_item_id.extra["ID"], "Quantity": 0,
                        "UnitPrice": 0, "Description": line.name[:60]})
                continue
            if line.display_type != "product":
                continue
            quantity = line.quantity or 1.0
            invoice_lines.append({
                "Item": self._exact_item_for(line.product_id).extra["ID"],
                "Quantity": sign * quantity,
                # Net price per unit excl. VAT: discounts and tax-included prices are
                # already folded in, so Exact's line amount equals Odoo's subtotal.
                "UnitPrice": round(line.price_subtotal / quantity, 6),
                "VATCode": self._mapped_option("tax", line.tax_ids[:1]).code,
                "Description": (line.name or line.product_id.display_name or "")[:60],
            })
        vals["SalesInvoiceLines"] = invoice_lines
        invoice = client.create_sales_invoice(vals)
        move._bookkeeping_write({"bookkeeping_remote_id": invoice["InvoiceID"]})
        return self._exact_invoice_result(client, move, invoice, allow_print=True)

    def _exact_invoice_result(self, client, move, invoice, allow_print=False):
        result = {
            "remote_id": invoice["InvoiceID"],
            "state": "sent_draft",
            "remote_ref": str(invoice["OrderNumber"]) if invoice.get("OrderNumber") else None,
            "remote_status": self._exact_status_label(invoice.get("Status")),
            "remote_amount": abs(float(invoice["AmountFC"]))
            if invoice.get("AmountFC") is not None else None,
        }
        status = int(invoice.get("Status") or 0)
        if allow_print and self.exact_print_invoices and status < PROCESSED:
            try:
                client.print_sales_invoice(invoice["InvoiceID"])
                invoice = client.sales_invoices_by_ids([invoice["InvoiceID"]])[0]
                status = int(invoice.get("Status") or 0)
                result["remote_status"] = self._exact_status_label(status)
            except (client_errors.AuthExpired, client_errors.RateLimited):
                raise
            except (client_errors.BookkeepingError, IndexError) as error:
                # The invoice exists: keep it as a draft; the number sync processes it later.
                move._message_log(body=self.env._(
                    "Exact created the invoice but could not process it yet: %(error)s",
                    error=error))
        if invoice.get("InvoiceNumber") and status >= PROCESSED:
            result.update(state="done", remote_number=str(invoice["InvoiceNumber"]))
        return result

    def _exact_find_move(self, client, move):
        if self.invoice_mode == "remote":
            rows = [r for r in client.sales_invoices_by_your_ref([move.name])
                    if r.get("YourRef") == move.name]
            if not rows:
                return None
            move._bookkeeping_write({"bookkeeping_remote_id": rows[0]["InvoiceID"]})
            return self._exact_invoice_result(client, move, rows[0], allow_print=True)
        rows = [r for r in client.sales_entries_by_your_ref([move.name])
                if r.get("YourRef") == move.name]
        return self._exact_entry_result(move, rows[0]) if rows else None

    # ------------------------------------------------------------------ sync back

    @api.model
    def _exact_filter_groups(self, client, path, field, values, select):
        """``field eq a or field eq b ...`` filters as long as Exact's 6000-character URL
        allows: about 85 GUIDs or 150 references per call instead of 40."""
        budget = MAX_URL - len(client.api(path)) - len(quote(select, safe="")) - 300
        return or_groups(field, values, max_values=1000, max_chars=budget)

    def _exact_bulk(self, client, path, field, values, select):
        """Rows of a bulk endpoint (1000 per page) whose ``field`` is one of ``values``."""
        rows = []
        for group in self._exact_filter_groups(client, path, field, values, select):
            rows.extend(client._collection(path, select=select, filter=group))
        return rows

    def _exact_sync_numbers(self, client, moves):
        """Numbers of the drafts, ~40 invoices per call; processes open ones when asked."""
        moves = moves.filtered("bookkeeping_remote_id")
        by_id = {move.bookkeeping_remote_id.lower(): move for move in moves}
        rows = self._exact_bulk(client, "bulk/SalesInvoice/SalesInvoices", "InvoiceID",
                                list(by_id), INVOICE_SELECT)
        to_print = []
        for row in rows:
            move = by_id.get(str(row.get("InvoiceID") or "").lower())
            if not move:
                continue
            status = int(row.get("Status") or 0)
            vals = {"bookkeeping_remote_status": self._exact_status_label(status)}
            if row.get("InvoiceNumber"):
                vals["bookkeeping_remote_number"] = str(row["InvoiceNumber"])
                if status >= PROCESSED:
                    vals["bookkeeping_state"] = "done"
            elif self.exact_print_invoices and status < PROCESSED:
                to_print.append(row["InvoiceID"])
            move._bookkeeping_write(vals)
        for invoice_id in to_print:
            # Only after an earlier print failed: one call each, numbers come next sync.
            try:
                client.print_sales_invoice(invoice_id)
            except client_errors.ValidationError as error:
                by_id[invoice_id.lower()]._message_log(body=str(error))

    def _exact_sync_payments(self, client, moves):
        """Payment state from ``bulk/Cashflow/Receivables`` (1000 rows per page), in
        or-groups of ~40 of our keys: the entry id, or our reference for Exact's invoices."""
        entries = moves.filtered(
            lambda m: m.bookkeeping_remote_id and self.invoice_mode == "odoo")
        invoices = moves.filtered(
            lambda m: self.invoice_mode == "remote" and m.bookkeeping_state == "done")
        found = defaultdict(list)
        if entries:
            by_id = {m.bookkeeping_remote_id.lower(): m for m in entries}
            for row in self._exact_bulk(client, "bulk/Cashflow/Receivables",
                                        "TransactionEntryID", list(by_id), RECEIVABLE_SELECT):
                move = by_id.get(str(row.get("TransactionEntryID") or "").lower())
                if move:
                    found[move].append(row)
        if invoices:
            by_ref = {m.name: m for m in invoices}
            for row in self._exact_bulk(client, "bulk/Cashflow/Receivables", "YourRef",
                                        list(by_ref), RECEIVABLE_SELECT):
                move = by_ref.get(row.get("YourRef"))
                if move:
                    found[move].append(row)
        partial = [move for move, rows in found.items()
                   if any(r.get("LastPaymentDate") and not r.get("IsFullyPaid") for r in rows)]
        open_amount = defaultdict(float)
        if partial:
            # Receivables keep the full amount; the open part is only in ReceivablesList.
            for row in self._exact_bulk(client, "read/financial/ReceivablesList", "YourRef",
                                        [m.name for m in partial], "YourRef,Amount"):
                open_amount[row.get("YourRef")] += float(row.get("Amount") or 0.0)
        for move, rows in found.items():
            if all(row.get("IsFullyPaid") for row in rows):
                state, residual = "paid", 0.0
            elif move in partial:
                state, residual = "partial", abs(open_amount.get(move.name, 0.0))
            else:
                state = "open"
                residual = abs(sum(float(row.get("AmountFC") or 0.0) for row in rows))
            move._bookkeeping_write({"bookkeeping_remote_payment_state": state,
                                     "bookkeeping_remote_residual": residual})

    def _exact_remote_url(self, move):
        host = self._exact_host()
        div, key = self.administration_code, move.bookkeeping_remote_id
        if self.invoice_mode == "remote":
            return f"{host}/docs/SalesInvoice.aspx?_Division_={div}&InvoiceID={key}"
        return f"{host}/docs/SalesEntry.aspx?_Division_={div}&EntryID={key}"

    # ------------------------------------------------------------------ partners

    def _exact_partner_remote_id(self, partner):
        return partner.with_company(self.company_id).exact_account_id or False

    def _exact_set_partner_remote(self, partner, remote):
        partner.with_company(self.company_id).write({
            "exact_account_id": remote["remote_id"],
            "exact_account_code": (remote.get("code") or "").strip() or False,
        })

    def _exact_partner_vals(self, partner):
        vals = {
            "Name": partner.name,
            "Status": "C",
            "Email": partner.email or None,
            "VATNumber": partner.vat or None,
            "ChamberOfCommerce": partner.company_registry or None,
            "AddressLine1": partner.street or None,
            "Postcode": partner.zip or None,
            "City": partner.city or None,
            "Country": partner.country_id.code or None,
        }
        return {key: value for key, value in vals.items() if value is not None}

    def _exact_push_partner(self, client, partner):
        vals = self._exact_partner_vals(partner)
        remote_id = self._exact_partner_remote_id(partner)
        if not remote_id:
            # Look before creating: a create whose answer got lost must not make a twin.
            existing = self._exact_find_account(client, partner)
            remote_id = existing and existing["ID"]
            code = existing and existing.get("Code")
        else:
            code = partner.with_company(self.company_id).exact_account_code
        if remote_id:
            try:
                client.update_account(remote_id, vals)
                return {"remote_id": remote_id, "code": code}
            except client_errors.NotFound:
                pass  # deleted in Exact: create it again
        account = client.create_account(vals)
        return {"remote_id": account["ID"], "code": account.get("Code")}

    def _exact_find_account(self, client, partner):
        for field, value in (("VATNumber", partner.vat), ("Email", partner.email),
                             ("Name", partner.name)):
            if not value:
                continue
            rows = [r for r in client.accounts_by_field(field, [value])
                    if r.get("Status") in (None, "C")]
            if len(rows) == 1 or (rows and field == "VATNumber"):
                return rows[0]
        return None

    def _exact_fetch_customers(self, client):
        return [{
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
        } for row in client.accounts_where("Status eq 'C'")]

    def _exact_partner_match_keys(self):
        return ["vat", "coc", "email", "name"]
