"""One neutral description of an invoice, built on Odoo's own tax engine, that every
service translates to its API.

Odoo 19 rounds VAT per tax (``round_globally``) and spreads the rounding over the lines;
the remote packages compute VAT per line. So we never let them compute: every line goes
with its VAT amount taken from ``_get_rounded_base_and_tax_lines`` (the engine Odoo uses for
the tax lines, the totals widget and the UBL export), so that the VAT per tax equals Odoo's
tax lines and the total equals Odoo's to the cent, in the invoice currency and in the
company currency.

Every line that carries an amount is in the document: product lines, early payment discount
lines (``epd``, payment terms in "mixed" mode), cash rounding lines (strategy "add a rounding
line") and discount allocation lines. Tax lines and the receivable are what the remote
package makes of those lines; COGS lines are not part of the invoice.
"""

from odoo import fields, models

# display_type -> document kind
DOCUMENT_KINDS = {
    "product": "product",
    "epd": "early_payment",
    "rounding": "cash_rounding",
    "discount": "discount",
}


class AccountMove(models.Model):
    _inherit = "account.move"

    def _bookkeeping_document(self):
        """The invoice as a bookkeeping package books it.

        Returns a dict:

        * ``sign``: 1 for an invoice, -1 for a credit note (remote packages book credit notes
          as negative amounts); every amount below carries it.
        * ``lines``: dicts with ``line`` (the journal item), ``kind`` (product,
          early_payment, cash_rounding, discount), ``name``, ``account``, ``taxes``,
          ``quantity``, ``amount`` / ``vat`` (invoice currency, excl. VAT / VAT) and
          ``amount_company`` / ``vat_company`` (company currency), rounded to the cent.
          Per tax, ``vat`` sums to Odoo's tax lines exactly; per line, ``amount_company``
          is the journal item's balance.
        * ``vat_per_tax``: {tax id: (invoice currency, company currency)} of Odoo's tax lines.
        * ``total`` / ``total_company``: the receivable, as Odoo booked it.
        * ``problem``: a message when the lines do not add up to Odoo's total (a kind of line
          this module does not know), else False. Such an invoice must not be sent.
        """
        self.ensure_one()
        sign = -1 if self.move_type == "out_refund" else 1
        currency, company_currency = self.currency_id, self.company_currency_id
        # The engine's per-line VAT, in document sign (positive on an invoice line).
        base_lines, _tax_lines = self._get_rounded_base_and_tax_lines()
        engine_vat = {}
        for base_line in base_lines:
            record = base_line["record"]
            if not isinstance(record, models.BaseModel) or not record.id:
                continue
            taxes_data = base_line["tax_details"]["taxes_data"]
            fc, dc = engine_vat.get(record.id, (0.0, 0.0))
            engine_vat[record.id] = (
                fc + sum(data["tax_amount_currency"] for data in taxes_data),
                dc + sum(data["tax_amount"] for data in taxes_data),
            )
        lines = []
        vat_per_tax = {}
        total = total_company = 0.0
        for aml in self.line_ids.sorted(
            lambda ln: (ln.display_type != "product", ln.sequence, ln.id)
        ):
            if aml.tax_line_id:
                fc, dc = vat_per_tax.get(aml.tax_line_id.id, (0.0, 0.0))
                vat_per_tax[aml.tax_line_id.id] = (fc - aml.amount_currency, dc - aml.balance)
                continue
            if aml.display_type == "payment_term":
                total += aml.amount_currency
                total_company += aml.balance
                continue
            kind = DOCUMENT_KINDS.get(aml.display_type)
            if not kind:
                continue
            fc, dc = engine_vat.get(aml.id, (0.0, 0.0))
            line = {
                "line": aml,
                "kind": kind,
                "name": aml.name or aml.product_id.display_name or aml.account_id.display_name,
                "account": aml.account_id,
                "taxes": aml.tax_ids,
                "quantity": aml.quantity if kind == "product" else 1.0,
                "amount": currency.round(-aml.amount_currency),
                # Journal items are credits on an invoice, debits on a credit note; the
                # engine's amounts are positive on both.
                "vat": currency.round(sign * fc),
                "amount_company": company_currency.round(-aml.balance),
                "vat_company": company_currency.round(sign * dc),
            }
            if (
                kind != "product"
                and all(currency.is_zero(line[key]) for key in ("amount", "vat"))
                and all(
                    company_currency.is_zero(line[key]) for key in ("amount_company", "vat_company")
                )
            ):
                continue  # carries nothing
            lines.append(line)
        vat_per_tax = {
            tax_id: (currency.round(fc), company_currency.round(dc))
            for tax_id, (fc, dc) in vat_per_tax.items()
        }
        self._bookkeeping_align_vat(lines, vat_per_tax)
        document = {
            "sign": sign,
            "lines": lines,
            "vat_per_tax": vat_per_tax,
            "total": currency.round(total),
            "total_company": company_currency.round(total_company),
            "problem": False,
        }
        sent = sum(line["amount"] + line["vat"] for line in lines)
        sent_company = sum(line["amount_company"] + line["vat_company"] for line in lines)
        if currency.compare_amounts(sent, total) or company_currency.compare_amounts(
            sent_company, total_company
        ):
            document["problem"] = self.env._(
                "The lines of %(invoice)s add up to %(sent)s while its total is %(total)s: it "
                "has lines of a kind that cannot be sent. Nothing was sent.",
                invoice=self.display_name,
                sent=currency.round(sent),
                total=document["total"],
            )
        return document

    def _bookkeeping_align_vat(self, lines, vat_per_tax):
        """Make the VAT of the lines of each tax sum to Odoo's tax line exactly.

        The engine does this already (its amounts are distributed from the tax lines); this
        only catches what it could not know, e.g. a tax amount edited on the tax line. The
        difference goes on the line with the largest amount of that tax."""
        currency, company_currency = self.currency_id, self.company_currency_id
        for tax_id, (target, target_company) in vat_per_tax.items():
            of_tax = [line for line in lines if line["taxes"].ids == [tax_id]]
            if not of_tax:
                continue
            largest = max(of_tax, key=lambda line: abs(line["amount"]))
            for key, goal, cur in (
                ("vat", target, currency),
                ("vat_company", target_company, company_currency),
            ):
                diff = cur.round(goal - sum(line[key] for line in of_tax))
                if not cur.is_zero(diff):
                    largest[key] = cur.round(largest[key] + diff)


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    untaxed_vat_code_id = fields.Many2one(
        "bookkeeping.remote.option",
        "VAT code for lines without tax",
        domain="[('backend_id', '=', id), ('kind', '=', 'vat_code')]",
        help="Cash rounding lines, the untaxed half of early payment discounts and discount "
        "allocation lines carry no tax in Odoo. They are sent with this remote VAT code and "
        "no VAT (choose a code without VAT, e.g. 'no VAT' or 0%).",
    )

    def _document_kind_label(self, kind):
        return {
            "product": self.env._("invoice line"),
            "early_payment": self.env._("early payment discount"),
            "cash_rounding": self.env._("cash rounding"),
            "discount": self.env._("discount"),
        }[kind]

    def _document_errors(self, document, account_needed, products=False):
        """What stops the lines beyond the product lines (the services check those
        themselves; ``products``: those too): a remote VAT code for each, a mapped account
        where the service books on accounts (``account_needed(line)``), and a document that
        adds up."""
        errors = []
        if document["problem"]:
            errors.append(document["problem"])
        for line in document["lines"]:
            if line["kind"] == "product" and not products:
                continue
            label = self.env._(
                "%(name)s (%(kind)s)",
                name=line["name"],
                kind=self._document_kind_label(line["kind"]),
            )
            taxes = line["taxes"]
            if not taxes and not self.untaxed_vat_code_id:
                errors.append(
                    self.env._(
                        "Line '%(line)s' has no tax. Choose the VAT code for lines without tax on "
                        "the link %(name)s (tab VAT codes).",
                        line=label,
                        name=self.name,
                    )
                )
            elif len(taxes) > 1:
                errors.append(
                    self.env._(
                        "Line '%(line)s' has several taxes; %(service)s takes one VAT code per "
                        "line.",
                        line=label,
                        service=self._service_label(),
                    )
                )
            elif taxes and not self._mapped_option("tax", taxes):
                errors.append(
                    self.env._(
                        "The tax %(tax)s has no %(service)s VAT code: map it on the link %(name)s "
                        "(tab VAT codes).",
                        tax=taxes.display_name,
                        service=self._service_label(),
                        name=self.name,
                    )
                )
            if account_needed(line) and not self._mapped_option("account", line["account"]):
                errors.append(
                    self.env._(
                        "Line '%(line)s' is booked on %(account)s, which has no %(service)s ledger "
                        "account: map it on the link %(name)s (tab Accounts).",
                        line=label,
                        account=line["account"].display_name,
                        service=self._service_label(),
                        name=self.name,
                    )
                )
        return errors

    def _document_vat_code(self, line):
        """The remote VAT code of a document line (untaxed lines: the link's choice)."""
        if line["taxes"]:
            return self._mapped_option("tax", line["taxes"]).code
        return self.untaxed_vat_code_id.code

    def _flag_remote_total(self, move, message):
        """The remote package booked another total than Odoo's. The remote record exists
        and is never made twice, so the invoice keeps its state; it gets a note and an
        activity so that someone corrects the remote record."""
        summary = self.env._("%(service)s total differs", service=self._service_label())
        warning = self.env.ref("mail.mail_activity_data_warning")
        if move.activity_ids.filtered(
            lambda a: a.activity_type_id == warning and a.summary == summary
        ):
            return  # already flagged (e.g. looked up again after a retry)
        move._message_log(body=message)
        user = move.invoice_user_id
        if not user.active or user.share:
            managers = self.env.ref(
                "account_bookkeeping_link.group_bookkeeping_manager"
            ).user_ids.filtered(lambda u: self.company_id in u.company_ids)
            user = managers[:1] or self.env.user
        move.activity_schedule(
            "mail.mail_activity_data_warning", summary=summary, note=message, user_id=user.id
        )
