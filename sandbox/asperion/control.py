"""Asperion's seed and its part of the control API (what a user would do in Asperion)."""

import datetime as dt

from . import seed
from .errors import (
    ApiError,
    money,
)
from .query import (
    add_query,
    public,
    to_number,
)
from .settings import (
    DEFAULT_CONFIG,
    SERVICE,
)


class ControlMixin:
    """Seed, reset and the /_sandbox/asperion/... actions (consent, config, finalize, pay)."""

    # -- seed and control ------------------------------------------------------------
    def reset(self):
        with self._lock:
            self.store.reset(SERVICE)
            self.config = dict(DEFAULT_CONFIG)
            for adm, debtors in seed.DEBTORS.items():
                for debtor in debtors:
                    self.store.insert(SERVICE, f"debtors@{adm}", debtor, id=debtor["id"])
            for adm, invoices in seed.SALESINVOICES.items():
                for row in invoices:
                    inv = self._seed_invoice(adm, *row)
                    self.store.insert(SERVICE, f"invoices@{adm}", inv, id=inv["id"])
            self.store.kv_set(f"{SERVICE}:seeded", True)

    def _seed_invoice(self, adm, id_, number, debtor_id, date, amount, vat, paid):
        debtor = self.store.get(SERVICE, f"debtors@{adm}", debtor_id)
        body = {
            "invoiceNumber": number,
            "date": date,
            "debtorId": debtor_id,
            "description": f"Seed {number}",
            "lines": [
                {"description": "Seed", "amount": amount, "vatCode": vat, "ledgerAccountId": 8000}
            ],
        }
        inv = self._build_invoice(adm, body, debtor)
        inv["id"] = id_
        inv["_paid"] = inv["amountInclVat"] if paid is None else paid
        # A23: 6 Payable, 7 Paid
        inv["status"] = 7 if paid is None else 6
        return inv

    def _save_config(self):
        self.store.kv_set(f"{SERVICE}:config", self.config)

    def handle_control(self, action, path_rest, body):
        parts = [p for p in [action.lower()] + path_rest.lower().split("/") if p]
        try:
            if parts == ["consent"]:
                return 200, self._control_consent(body)
            if parts == ["clients"]:
                return self.clients.register(body)
            if parts == ["config"]:
                return 200, self._control_config(body)
            if len(parts) == 3 and parts[0] == "drafts" and parts[2] in ("finalize", "delete"):
                return self._control_draft(parts[1], parts[2])
            if len(parts) == 3 and parts[0] == "salesinvoices" and parts[2] == "pay":
                return self._control_pay(parts[1], body.get("amount"))
        except ApiError as exc:
            return exc.status, self._problem_body(exc, 1, "")
        return 404, {"error": f"unknown asperion control action {'/'.join(parts)}"}

    def _control_consent(self, body):
        """The non-interactive "Yes, Allow": returns where the browser would be sent."""
        client_id, redirect_uri = body.get("client_id"), body.get("redirect_uri") or ""
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            raise ApiError(400, "validation", detail=problem)
        adms = [int(a) for a in body.get("administrations") or seed.REACHABLE]
        code = self._issue_code(client_id, redirect_uri, body.get("scope") or "", adms)
        return {
            "redirect": add_query(redirect_uri, code=code, state=body.get("state") or ""),
            "code": code,
        }

    def _control_config(self, body):
        with self._lock:
            for key in (
                "access_token_lifetime",
                "refresh_token_lifetime",
                "code_lifetime",
                "retry_after",
                "default_page_size",
                "max_page_size",
            ):
                if key in body:
                    self.config[key] = int(body[key])
            revoked = set(self.config["revoked_administrations"])
            if "revoked_administrations" in body:
                revoked = {int(a) for a in body["revoked_administrations"] or []}
            if body.get("revoke_administration") is not None:
                revoked.add(int(body["revoke_administration"]))
            if body.get("restore_administration") is not None:
                revoked.discard(int(body["restore_administration"]))
            self.config["revoked_administrations"] = sorted(revoked)
            self._save_config()
            return dict(self.config)

    def _find(self, kind, id_):
        for adm in seed.REACHABLE + (103,):
            doc = self.store.get(SERVICE, f"{kind}@{adm}", id_)
            if doc is not None:
                return adm, doc
        raise ApiError(404, "not_found", detail="not_found_detail", resource=kind, id=id_)

    def _control_draft(self, draft_id, what):
        with self._lock:
            adm, draft = self._find("drafts", draft_id)
            self.store.delete(SERVICE, f"drafts@{adm}", draft_id)
            if what == "delete":
                return 200, {"deleted": int(draft_id)}
            inv = self._finalize(adm, draft)
            self.store.insert(SERVICE, f"invoices@{adm}", inv, id=inv["id"])
            return 200, public(inv)

    def _finalize(self, adm, draft):
        """The user finalises a draft in Asperion: a Payable invoice with a fresh number."""
        lines = []
        for line in draft["lines"]["_data"]:
            lines.append(
                {
                    "id": self.store.next_seq(f"{SERVICE}.line.id"),
                    "description": line.get("description"),
                    "amount": line.get("amount") or 0.0,
                    "vatAmount": line.get("vatAmount") or 0.0,
                    "vatCode": line.get("vatCode"),
                    "ledgerAccountId": self._line_ledger(line),
                    "costCenterId": line.get("costCenterId"),
                    "costUnitId": line.get("costUnitId"),
                }
            )
        debtor = self.store.get(SERVICE, f"debtors@{adm}", draft["debtorId"]) or {}
        inv = self._invoice_header(adm, draft, debtor, self._next_invoice_number(adm))
        inv.update(
            description=draft.get("description"),
            reference=draft.get("reference"),
            lines={"_data": lines, "_meta": {"totalCount": len(lines)}},
            amountExclVat=draft["amountExclVat"],
            vatAmount=draft["vatAmount"],
            amountInclVat=draft["amountInclVat"],
            _draftId=draft["id"],
        )
        inv["id"] = 1000 + self.store.next_seq(f"{SERVICE}.salesinvoice.id")
        return inv

    def _line_ledger(self, line):
        kind = line.get("bookingType")
        if kind == "G":
            return line.get("ledgerAccountId")
        if kind == "A":
            line = {"salesTypeId": self._skus[line["articleSku"].lower()]["salesTypeId"]}
        if kind in ("A", "V"):
            return self._master["salestypes"][str(line["salesTypeId"])]["ledgerAccountId"]
        return None

    # A22: finalising numbers the invoice; numbers are never reused
    def _next_invoice_number(self, adm):
        """A number from a per-administration sequence: never reused, even after deletes."""
        used = {i["invoiceNumber"] for i in self.store.view(SERVICE, f"invoices@{adm}")}
        year = dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).year
        while True:
            number = f"{year}{self.store.next_seq(f'{SERVICE}.invoicenumber.{adm}'):04d}"
            if number not in used:
                return number

    def _control_pay(self, invoice_id, amount):
        with self._lock:
            adm, inv = self._find("invoices", invoice_id)
            open_amount = money(inv["amountInclVat"] - inv.get("_paid", 0.0))
            pay = open_amount if amount is None else to_number(amount)
            if pay is None:
                raise ApiError(400, "validation", detail="amount must be a number")
            inv["_paid"] = money(inv.get("_paid", 0.0) + pay)
            if abs(inv["amountInclVat"] - inv["_paid"]) < 0.005:
                inv["status"] = 7  # Paid
            self.store.update(SERVICE, f"invoices@{adm}", inv["id"], inv)
            out = public(inv)
            out["outstandingAmount"] = money(inv["amountInclVat"] - inv["_paid"])
            return 200, out
