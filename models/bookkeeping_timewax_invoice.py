"""One Timewax invoice as Odoo sees it: its digest, its line texts, its invoice values and
the check of its totals against Odoo's tax engine."""

import hashlib
import json
import re
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from odoo import api, models

CENT = Decimal("0.01")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DMY_DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")


class TimewaxInvoiceError(Exception):
    """This invoice cannot be imported; the message says what to fix."""


def _plain(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items()) if k != "signReading"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _number(value):
    return format(value.normalize(), "f") if isinstance(value, Decimal) else (value or "")


class BookkeepingTimewaxInvoice(models.AbstractModel):
    _name = "bookkeeping.timewax.invoice"
    _description = "Timewax invoice as an Odoo invoice"

    @api.model
    def _digest(self, invoice):
        """Equal for equal content, whatever the decimal format or credit-note sign."""
        data = json.dumps(_plain(invoice), sort_keys=True, default=str)
        return hashlib.sha1(data.encode(), usedforsecurity=False).hexdigest()

    @api.model
    def _invoice_date(self, invoice):
        raw = (invoice.get("rawDate") or "").strip()
        try:
            if ISO_DATE.match(raw):
                return date.fromisoformat(raw)
            match = DMY_DATE.match((invoice.get("date") or "").strip())
            if match:
                day, month, year = match.groups()
                return date(int(year), int(month), int(day))
        except ValueError:
            pass
        raise TimewaxInvoiceError(
            self.env._(
                "Timewax sent no valid date (rawDate %(raw)r, date %(date)r).",
                raw=raw,
                date=invoice.get("date"),
            )
        )

    @api.model
    def _line_text(self, line):
        """The line description plus each item: date, resource, hours x rate, km, text."""
        parts = [(line.get("description") or "").strip()]
        for item in line.get("items") or []:
            detail = []
            when = (item.get("date") or item.get("rawDate") or "").strip()
            who = (item.get("resourceName") or item.get("resourceCode") or "").strip()
            head = " ".join(p for p in (when, who) if p)
            if item.get("hours") is not None:
                rate = item.get("rate")
                detail.append(
                    f"{_number(item['hours'])} h"
                    + (f" × {rate:.2f}" if isinstance(rate, Decimal) else "")
                )
            if item.get("km") is not None:
                detail.append(f"{_number(item['km'])} km")
            text = (item.get("description") or "").strip()
            if text and text not in parts[0]:
                detail.append(text)
            if item.get("breakdownName"):
                detail.append(item["breakdownName"].strip())
            row = ": ".join(p for p in (head, ", ".join(detail)) if p)
            if row:
                parts.append(row)
        return "\n".join(p for p in parts if p) or "/"

    @api.model
    def _narration(self, invoice):
        refs = [str(r).strip() for r in invoice.get("references") or [] if str(r).strip()]
        if not refs:
            return False
        return Markup("<br/>").join(escape(r) for r in refs)

    @api.model
    def _totals(self, invoice):
        """Timewax's VAT and total: the sums of its lines, and its header total."""
        vat = sum((line.get("vatAmount") or Decimal(0) for line in invoice["lines"]), Decimal(0))
        return vat, invoice.get("amountInclVat")

    @api.model
    def _odoo_totals(self, company, currency, lines):
        """What Odoo will compute for these lines (``[(tax, amount excl. VAT)]``), by the
        same tax engine that computes the invoice: (VAT, total) as Decimals."""
        AccountTax = self.env["account.tax"]
        base_lines = [
            AccountTax._prepare_base_line_for_taxes_computation(
                {}, tax_ids=tax, price_unit=float(amount), quantity=1.0, currency_id=currency
            )
            for tax, amount in lines
        ]
        AccountTax._add_tax_details_in_base_lines(base_lines, company)
        AccountTax._round_base_lines_tax_details(base_lines, company)
        summary = AccountTax._get_tax_totals_summary(base_lines, currency, company)
        return (
            Decimal(str(summary["tax_amount_currency"])).quantize(CENT),
            Decimal(str(summary["total_amount_currency"])).quantize(CENT),
        )

    @api.model
    def _check_totals(self, invoice, odoo_vat, odoo_total, company=None):
        """None when Odoo's VAT and total equal Timewax's to the cent, else why not."""
        vat, total = self._totals(invoice)
        if total is None:
            return self.env._("Timewax sent no total (amountInclVat).")
        problems = []
        if vat.quantize(CENT) != odoo_vat:
            problems.append(
                self.env._(
                    "VAT: Timewax %(tw)s, Odoo %(odoo)s", tw=vat.quantize(CENT), odoo=odoo_vat
                )
            )
        if total.quantize(CENT) != odoo_total:
            problems.append(
                self.env._(
                    "total: Timewax %(tw)s, Odoo %(odoo)s", tw=total.quantize(CENT), odoo=odoo_total
                )
            )
        if not problems:
            return None
        hint = ""
        if company and company.tax_calculation_rounding_method == "round_globally":
            hint = " " + self.env._(
                "Timewax rounds the VAT per line and this company rounds it globally: set "
                "the tax rounding to 'Round per line' (Accounting settings)."
            )
        return (
            self.env._(
                "The amounts differ from Timewax's (%(diff)s): check the VAT code mapping and "
                "the company's tax rounding; the invoice stays a draft.",
                diff="; ".join(problems),
            )
            + hint
        )
