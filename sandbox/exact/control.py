"""Exact's part of the control API (what a user would do in Exact)."""

from .errors import ODataError
from .seed import CONSENTABLE, seed_division
from .settings import (
    DEFAULT_CONFIG,
)


class ControlMixin:
    """The /_sandbox/exact/... actions: consent, config, clients, divisions, pay, print."""

    # -- control API ---------------------------------------------------------------------
    def handle_control(self, action, path_rest, body):
        """/_sandbox/exact/<action>/<path_rest>: consent, clients (app registration),
        config, receivables/<guid>/pay, salesinvoices/<guid>/print. Returns (status, dict)."""
        if action == "consent":
            return self.consent(body)
        if action == "clients":
            return self.clients.register(body)
        if action == "divisions":
            return self.add_divisions(body)
        if action == "config":
            unknown = set(body) - set(DEFAULT_CONFIG)
            if unknown:
                return 400, {"error": f"unknown settings: {sorted(unknown)}"}
            if body:
                self.store.kv_set(
                    "exact:config", dict(self.store.kv_get("exact:config", {}), **body)
                )
                self._rate.clear()
                self._config = None
            return 200, self.config
        guid, _, verb = path_rest.partition("/")
        guid = guid.lower()
        try:
            with self._lock:
                if action == "receivables" and verb == "pay":
                    return self._control_pay(guid, body)
                if action == "salesinvoices" and verb == "print":
                    return self._control_print(guid)
        except ODataError as err:
            return err.status, {"error": err.message}
        return 404, {"error": "unknown exact control action"}

    def add_divisions(self, body):
        """E11: an accountant's user may reach many divisions. ``{"codes": [2001, ...]}``
        adds consentable divisions with the seeded master data (benchmarks of many links)."""
        codes = [int(c) for c in body.get("codes") or []]
        with self._lock:
            known = self.divisions()
            for code in codes:
                if code in known:
                    continue
                self.store.insert(
                    "exact",
                    "divisions",
                    {
                        "Code": code,
                        "Description": f"Sandbox kantoor {code}",
                        "Hid": code,
                        "VATNumber": f"NL{code:09d}B01",
                        "Country": "NL",
                        "Currency": "EUR",
                    },
                    id=code,
                )
                seed_division(self, code)
            extra = sorted(set(self.store.kv_get("exact:extra_divisions", [])) | set(codes))
            self.store.kv_set("exact:extra_divisions", extra)
        return 200, {"consentable": list(self.consentable())}

    def consentable(self):
        return (*CONSENTABLE, *self.store.kv_get("exact:extra_divisions", []))

    def _control_pay(self, guid, body):
        for div in self.divisions():
            for r in self.rows(div, "cashflow/Receivables"):
                invoice = self.get(div, "salesinvoice/SalesInvoices", guid)
                entry_id = invoice.get("_EntryID") if invoice else None
                if (
                    guid in (r["ID"], r["TransactionEntryID"])
                    or r["TransactionEntryID"] == entry_id
                ):
                    paid = self.pay(
                        div, self.get(div, "cashflow/Receivables", r["ID"]), body.get("amount")
                    )
                    return 200, {
                        "ID": paid["ID"],
                        "IsFullyPaid": paid["IsFullyPaid"],
                        "Status": paid["Status"],
                        "AmountFC": paid["AmountFC"],
                        "Paid": paid["_Paid"],
                        "Division": div,
                    }
        return 404, {"error": "no receivable for " + guid}

    def _control_print(self, guid):
        for div in self.divisions():
            invoice = self.get(div, "salesinvoice/SalesInvoices", guid)
            if invoice:
                printed = self.print_invoice(div, invoice)
                return 200, {
                    "InvoiceID": guid,
                    "InvoiceNumber": printed["InvoiceNumber"],
                    "Status": 50,
                    "EntryID": printed["_EntryID"],
                    "Division": div,
                }
        return 404, {"error": "no sales invoice " + guid}
