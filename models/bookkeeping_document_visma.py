"""The invoice document in eAccounting's words: draft rows on articles, the expected
totals of a convert, and the ledger item with its balanced voucher (V31-V40).

Articles: a product with an internal reference (SKU) is the article with that ``Number``;
it is found in one paged read of the articles per run, or created once with the coding the
line's tax maps to and the mapped unit, and remembered in ``bookkeeping.product.link``.
Other lines use the default article of their tax's mapping.
"""

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal

from odoo import models
from odoo.exceptions import UserError

from ..clients.visma import article_row, marker, text_row

CENT = Decimal("0.01")
# Article fields eAccounting keeps itself: never part of a PUT body.
ARTICLE_READ_ONLY = (
    "Id",
    "ChangedUtc",
    "IsStock",
    "StockBalance",
    "StockBalanceReserved",
    "StockBalanceAvailable",
    "CodingName",
    "UnitName",
    "UnitAbbreviation",
)


def _money(value):
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(value):
    return float(_money(value))


def _fits(value, places):
    return Decimal(str(value)) == Decimal(str(value)).quantize(Decimal(1).scaleb(-places))


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    # ------------------------------------------------------------------ drafts

    def _visma_draft_vals(self, move, customer_id, document, rows):
        vals = {
            "CustomerId": customer_id,
            "EuThirdParty": False,
            "RotReducedInvoicingType": 0,
            "IsCreditInvoice": document["sign"] < 0,
            "YourReference": move.name[:100],
            "InvoiceDate": str(move.invoice_date or move.date),
            "Rows": rows,
        }
        if move.ref:
            vals["OurReference"] = move.ref[:100]
        if move.invoice_date_due:
            vals["DueDate"] = str(move.invoice_date_due)
        term = move.invoice_payment_term_id
        option = self._mapped_option("payment_term", term) if term else None
        if option:
            vals["TermsOfPaymentId"] = option.code
        return vals

    def _visma_draft_rows(self, client, move, document):
        """Our marker first (found again after a lost answer), then the lines in Odoo's
        order, then the lines Odoo adds (cash rounding, early payment discount)."""
        sign = document["sign"]
        rows = [text_row(marker(move.name))]
        by_line = {line["line"].id: line for line in document["lines"]}
        for aml in move.invoice_line_ids.sorted("sequence"):
            if aml.display_type in ("line_section", "line_subsection", "line_note"):
                if self.note_lines == "text" and aml.name:
                    rows.append(text_row(aml.name))
            elif aml.id in by_line:
                rows.append(self._visma_article_row(client, by_line[aml.id], sign))
        rows += [
            self._visma_article_row(client, line, sign)
            for line in document["lines"]
            if line["kind"] != "product"
        ]
        for number, row in enumerate(rows):
            row["LineNumber"] = number
        return rows

    def _visma_article_row(self, client, line, sign):
        """An article row whose amount is Odoo's line amount to the cent: quantity, price
        and discount as Odoo has them when eAccounting's rounding (V33) gives the same
        amount, else one unit at the line amount."""
        aml = line["line"]
        amount = _money(line["amount"] * sign)  # positive on an invoice and a credit note
        text = (line["name"] or "")[:2000]
        quantity, price, discount = 1.0, float(amount), None
        if line["kind"] == "product" and aml.quantity:
            qty, unit = Decimal(str(aml.quantity)), Decimal(str(aml.price_unit))
            fraction = Decimal(str(aml.discount or 0)) / 100
            if (
                _fits(qty, 2)
                and _fits(unit, 2)
                and _fits(fraction, 4)
                and 0 <= fraction <= 1
                and qty > 0
                and _money(qty * unit * (1 - fraction)) == amount
            ):
                quantity, price = float(qty), float(unit)
                discount = float(fraction) or None
        return article_row(
            self._visma_line_article(client, line), quantity, price, text=text, discount=discount
        )

    def _visma_expected_totals(self, document):
        """V34: what eAccounting must find, or refuse to book (invoice currency)."""
        vat = sum(line["vat"] for line in document["lines"])
        return {
            "TotalAmountInvoiceCurrency": _cents(document["total"]),
            "TotalVatAmountInvoiceCurrency": _cents(vat),
        }

    # ------------------------------------------------------------------ articles

    def _visma_product_article(self, product):
        return self._visma_run_cache()["articles"].get(product.id, (False, False))[0]

    def _visma_run_cache(self):
        """Plain values for the run (they outlive the per-invoice commits): each tax's
        coding and default article, and the articles of linked products."""
        cache = self.env.context.get("bookkeeping_mapping_cache")
        if cache is None:
            cache = self._mapping_cache()
        return cache["visma"]

    def _mapping_cache(self):
        cache = super()._mapping_cache()
        if self.service == "visma":
            links = self.env["bookkeeping.product.link"].search([("backend_id", "=", self.id)])
            cache["visma"] = {
                "taxes": self._visma_tax_cache(),
                "articles": {
                    link.product_id.id: (link.remote_id, link.sent_hash) for link in links
                },
            }
        return cache

    def _visma_line_article(self, client, line):
        taxes = line["taxes"]
        if not taxes:
            return self.visma_untaxed_article_id.extra["Id"]
        product = line["line"].product_id if line["kind"] == "product" else None
        if product and product.default_code:
            return self._visma_ensure_article(client, product, taxes)
        return self._visma_tax_mapping(taxes)["article"]

    def _visma_article_index(self, client):
        """Every article read once per run (pages of 100), by Number (case-insensitive)."""
        index = getattr(client, "_visma_articles", None)
        if index is None:
            index = {str(a.get("Number") or "").lower(): a for a in client.articles()}
            client._visma_articles = index
        return index

    def _visma_article_vals(self, product, taxes):
        unit = product.uom_id
        option = self._mapped_option("unit", unit) if unit else None
        option = option or self.visma_unit_id
        vals = {
            "Number": product.default_code[:40],
            "Name": (product.name or product.default_code)[:50],
            "IsActive": True,
            "CodingId": self._visma_tax_mapping(taxes).get("coding") or False,
            "UnitId": option.code if option else False,
            "NetPrice": _cents(product.lst_price),
        }
        return {key: value for key, value in vals.items() if value is not False}

    def _visma_ensure_article(self, client, product, taxes):
        """The article of ``product``: remembered, found by SKU, or created once. With
        'Update existing articles', an article whose name, unit or coding differ from
        Odoo's is written (read-merge-write: PUT replaces the record)."""
        known = self._visma_run_cache()["articles"]
        remote_id, sent_hash = known.get(product.id, (False, False))
        vals = self._visma_article_vals(product, taxes)
        digest = hashlib.sha1(
            json.dumps(vals, sort_keys=True).encode(), usedforsecurity=False
        ).hexdigest()
        if remote_id and (not self.visma_update_articles or sent_hash == digest):
            return remote_id
        Link = self.env["bookkeeping.product.link"]
        link = Link.search([("backend_id", "=", self.id), ("product_id", "=", product.id)], limit=1)
        article = self._visma_article_index(client).get(vals["Number"].lower())
        if article and self.visma_update_articles:
            article = self._visma_update_article(client, article, vals)
        elif not article:
            for key, label in (("CodingId", "coding"), ("UnitId", "unit")):
                if not vals.get(key):
                    raise UserError(
                        self.env._(
                            "The article %(number)s cannot be created in eAccounting without "
                            "a %(what)s: map it on the link.",
                            number=vals["Number"],
                            what=label,
                        )
                    )
            article = client.create_article(vals)
            self._visma_article_index(client)[vals["Number"].lower()] = article
        link_vals = {
            "remote_id": article["Id"],
            "remote_code": article.get("Number"),
            "sent_hash": digest if self.visma_update_articles or not link else link.sent_hash,
        }
        if link:
            link.write(link_vals)
        else:
            Link.create(dict(link_vals, backend_id=self.id, product_id=product.id))
        known[product.id] = (article["Id"], link_vals["sent_hash"])
        return article["Id"]

    def _visma_update_article(self, client, article, vals):
        changed = {
            key: value
            for key, value in vals.items()
            if key in ("Name", "CodingId", "UnitId") and article.get(key) != value
        }
        if not changed:
            return article
        body = {k: v for k, v in article.items() if k not in ARTICLE_READ_ONLY}
        body.update(changed)
        answer = client.update_article(article["Id"], body) or dict(article, **changed)
        self._visma_article_index(client)[vals["Number"].lower()] = answer
        return answer

    # ------------------------------------------------------------------ ledger items

    def _visma_ledger_vals(self, move, customer_id, document):
        """V38-V40: the ledger item and its voucher. The receivable on its account, every
        line on its mapped account with its VAT code and Odoo's VAT (VatAmount, NL), and
        the VAT per tax on the VAT code's account, so the voucher balances and every total
        equals Odoo's to the cent."""
        sign = document["sign"]
        text = f"{move.name} {move.partner_id.commercial_partner_id.name or ''}".strip()
        rows = [
            self._visma_voucher_row(
                int(self.visma_receivable_account_id.code), document["total"], text
            )
        ]
        for line in document["lines"]:
            row = self._visma_voucher_row(
                int(self._mapped_option("account", line["account"]).code),
                -line["amount"],
                line["name"],
            )
            row["VatCodeId"] = self._document_vat_code(line)
            row["VatAmount"] = abs(_cents(line["vat"]))
            rows.append(row)
        Tax = self.env["account.tax"]
        for tax_id, (vat, _vat_company) in document["vat_per_tax"].items():
            if move.currency_id.is_zero(vat):
                continue
            option = self._mapped_option("tax", Tax.browse(tax_id))
            row = self._visma_voucher_row(self._visma_vat_account(option), -vat, option.name)
            row["VatCodeId"] = option.code
            rows.append(row)
        vals = {
            "CustomerId": customer_id,
            "InvoiceNumber": self._visma_ledger_number(move),
            "IsCreditInvoice": sign < 0,
            "CurrencyCode": move.currency_id.name,
            "TotalAmountInvoiceCurrency": _cents(document["total"]),
            "RemainingAmountInvoiceCurrency": _cents(document["total"]),
            "VATAmountInvoiceCurrency": _cents(sum(line["vat"] for line in document["lines"])),
            "InvoiceDate": str(move.invoice_date or move.date),
            "Voucher": {
                "VoucherDate": str(move.invoice_date or move.date),
                "VoucherText": self._visma_voucher_text(move, text),
                "Rows": rows,
            },
        }
        if move.invoice_date_due:
            vals["DueDate"] = str(move.invoice_date_due)
        if move.payment_reference:
            vals["PaymentReferenceNumber"] = move.payment_reference[:50]
        return vals

    def _visma_voucher_text(self, move, text):
        # V37: a credit note has no link to its invoice in eAccounting; name it in words.
        if move.move_type == "out_refund" and move.reversed_entry_id:
            text = self.env._(
                "%(text)s (credit note of %(invoice)s)",
                text=text,
                invoice=move.reversed_entry_id.name,
            )
        return text[:1000]

    def _visma_voucher_row(self, account, debit_minus_credit, text):
        """A debit when positive, a credit when negative; both are >= 0 on the wire (V39)."""
        amount = _money(debit_minus_credit)
        row = {"AccountNumber": account, "TransactionText": (text or "")[:60]}
        if amount >= 0:
            row["DebitAmount"], row["CreditAmount"] = float(amount), 0.0
        else:
            row["DebitAmount"], row["CreditAmount"] = 0.0, float(-amount)
        return row
