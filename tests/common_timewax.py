"""Shared set-up of the Timewax tests: the real sandbox on loopback and a Timewax link with
its VAT codes mapped. Nothing of our own is mocked: faults are injected on the sandbox."""

from odoo import fields

from odoo.addons.account_bookkeeping_link.clients.ratelimit import reset_registry
from odoo.addons.account_bookkeeping_link.tests.common import SandboxCase

DATE_FROM = fields.Date.from_string("2026-01-01")
DATE_TO = fields.Date.from_string("2026-03-31")


class TimewaxCommon(SandboxCase):
    country_code = "NL"
    chart_template = "generic_coa"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reset_registry()
        cls.env.user.group_ids |= cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        cls.company = cls.company_data["company"]
        cls.company.country_id = cls.env.ref("base.nl")
        Tax = cls.env["account.tax"]
        cls.tax_21 = Tax.create(
            {
                "name": "BTW 21% (tw)",
                "amount": 21,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.tax_9 = Tax.create(
            {
                "name": "BTW 9% (tw)",
                "amount": 9,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.tax_0 = Tax.create(
            {
                "name": "BTW 0% export (tw)",
                "amount": 0,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.eur = cls.env.ref("base.EUR")
        cls.usd = cls.env.ref("base.USD")
        (cls.eur | cls.usd).active = True
        cls.backend = cls.env["bookkeeping.backend"].create(
            {
                "name": "Timewax sandbox",
                "service": "timewax",
                "company_id": cls.company.id,
                "timewax_base_url": f"{cls.url}/timewax",
                "timewax_client": "sandbox",
                "timewax_username": "api-user",
                "timewax_password": "secret",
            }
        )
        cls.backend.action_test_connection()
        cls.map_vat_codes()

    @classmethod
    def map_vat_codes(cls, backend=None):
        backend = backend or cls.backend
        cls.env["bookkeeping.timewax.vat.code"].create(
            [
                {"backend_id": backend.id, "code": code, "tax_id": tax.id}
                for code, tax in (("21", cls.tax_21), ("9", cls.tax_9), ("0", cls.tax_0))
            ]
        )

    def setUp(self):
        super().setUp()
        self.control("POST", "/reset", {"service": "timewax"})
        self.control("POST", "/stats/timewax/reset")
        reset_registry()

    # ------------------------------------------------------------------ helpers

    def faults(self, **values):
        return self.control("POST", "/faults/timewax", values)

    def config(self, **values):
        return self.control("POST", "/timewax/config", values)

    def stats(self):
        return self.control("GET", "/stats/timewax")

    def put_invoice(self, invoice):
        return self.control("POST", "/timewax/invoices", invoice)

    def run_import(self, backend=None, date_from=DATE_FROM, date_to=DATE_TO, **kw):
        backend = backend or self.backend
        return backend._timewax_import(date_from, date_to, **kw)

    def imported(self, number=None, backend=None):
        domain = [("timewax_backend_id", "=", (backend or self.backend).id)]
        if number:
            domain.append(("timewax_number", "=", number))
        return self.env["account.move"].search(domain, order="timewax_id")


ACME = {
    "clientCode": "C001",
    "clientName": "Acme BV",
    "projectCode": "P100",
    "projectName": "Website redesign",
    "debtorName": "Acme BV",
    "debtorAttn": "",
    "debtorPostcode": "1012 LG",
    "debtorCity": "Amsterdam",
    "debtorCountry": "NL",
    "debtorNumber": "D1001",
    "debtorEmail": "invoices@acme.example",
}


def tw_line(description, excl, vat_code="21", pct=21, vat=None, items=()):
    vat = round(excl * pct / 100 + 1e-9, 2) if vat is None else vat
    return {
        "description": description,
        "amountExclVat": excl,
        "vatCode": vat_code,
        "vatAmount": vat,
        "amountInclVat": round(excl + vat, 2),
        "items": list(items),
    }


def tw_invoice(id_, number, raw, lines, credit=False, currency="EUR", debtor=None, refs=()):
    """A Timewax invoice as the sandbox stores it (its control API takes this shape)."""
    refs = list(refs) + [""] * (5 - len(refs))
    return {
        "id": id_,
        "period": raw[:7],
        "rawDate": raw,
        "number": number,
        "creditNote": "Yes" if credit else "No",
        "amountInclVat": round(sum(line["amountInclVat"] for line in lines), 2),
        "currencyCode": currency,
        **(debtor or ACME),
        **{f"invoiceReference{i + 1}": ref for i, ref in enumerate(refs)},
        "lines": lines,
    }
