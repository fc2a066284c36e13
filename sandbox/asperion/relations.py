"""Asperion's debtors (customers)."""

from . import seed
from .errors import (
    FieldErrors,
)
from .query import (
    bind,
    iso,
    public,
    validate_only,
)
from .schema import (
    DEBTOR_FIELDS,
    NEW_DEBTOR,
)
from .settings import (
    SERVICE,
)


class RelationsMixin:
    """Debtors: create, update, validate, number."""

    def _r_debtors(self, ctx, res, rest, method):
        kind = f"debtors@{ctx.adm}"
        if method == "GET" and not rest:
            return self._envelope(ctx, self.store.view(SERVICE, kind), res)
        if method == "GET" and len(rest) == 1:
            return self._bare(ctx, res, self._get_or_404(ctx, "debtors", rest[0], "Debtor"))
        if method == "POST" and not rest:
            return self._save_debtor(ctx, None, self._body(ctx))
        if method == "PUT" and len(rest) == 1:
            existing = self._get_or_404(ctx, "debtors", rest[0], "Debtor")
            return self._save_debtor(ctx, existing, self._body(ctx))
        return None

    def _save_debtor(self, ctx, existing, body):
        data = bind(body, DEBTOR_FIELDS)
        for key in ("id", "dateAdded", "dateLastChange"):
            data.pop(key, None)
        with self._lock:
            if existing:
                # A PUT replaces the whole record (the strict reading of asperion.md §5,
                # where PUT is [I]): a field left out becomes empty, as when ASP.NET binds
                # a model from the body. A client must read, merge and write.
                debtor = dict(NEW_DEBTOR, id=existing["id"], dateAdded=existing["dateAdded"])
            else:
                debtor = dict(NEW_DEBTOR)
            debtor.update(data)
            self._validate_debtor(ctx, debtor, existing)
            if validate_only(ctx.request):
                return self._json(public(debtor))
            now = iso(self.clock.now())
            debtor["dateLastChange"] = now
            if existing:
                self.store.update(SERVICE, f"debtors@{ctx.adm}", debtor["id"], debtor)
                return self._bare(ctx, "debtors", debtor)
            debtor["id"] = 100 + self.store.next_seq(f"{SERVICE}.debtor.id")
            debtor["dateAdded"] = now
            if not debtor.get("customerNumber"):
                debtor["customerNumber"] = self._next_customer_number(ctx.adm)
            self.store.insert(SERVICE, f"debtors@{ctx.adm}", debtor, id=debtor["id"])
            resp = self._bare(ctx, "debtors", debtor)
            resp.status_code = 201
            return resp

    def _validate_debtor(self, ctx, debtor, existing):
        errors = FieldErrors()
        # A17: name and debtor kind are required
        if not str(debtor.get("name") or "").strip():
            errors.add("Name", "required", field="Name")
        self._check_ref(
            errors, "DebtorKindId", "debtorkinds", debtor.get("debtorKindId"), required=True
        )
        # A18: the country must be listed
        self._check_ref(errors, "CountryCode", "countries", debtor.get("countryCode"))
        self._check_ref(
            errors, "PaymentConditionId", "paymentconditions", debtor.get("paymentConditionId")
        )
        self._check_ref(errors, "PaymentMethodId", "paymentmethod", debtor.get("paymentMethodId"))
        number = debtor.get("customerNumber")
        if existing and not number:
            # a debtor keeps its number: a PUT without it would leave the debtor without one
            errors.add("CustomerNumber", "required", field="CustomerNumber")
        if number:
            debtor["customerNumber"] = number = str(number)
            for other in self.store.view(SERVICE, f"debtors@{ctx.adm}"):
                if other["customerNumber"] == number and other["id"] != debtor.get("id"):
                    errors.add("CustomerNumber", "duplicate", field="CustomerNumber", value=number)
        errors.raise_if_any()
        if debtor.get("debtorKindId"):
            debtor["debtorKindId"] = str(debtor["debtorKindId"]).upper()
        if debtor.get("countryCode"):
            debtor["countryCode"] = str(debtor["countryCode"]).upper()

    def _check_ref(self, errors, field, res, value, required=False):
        if value is None or value == "":
            if required:
                errors.add(field, "required", field=field)
            return None
        item = self._master[res].get(str(value).lower())
        if item is None:
            errors.add(field, "unknown", field=field, value=value)
        return item

    # A17: Asperion numbers a debtor without customerNumber
    def _next_customer_number(self, adm):
        used = {d["customerNumber"] for d in self.store.view(SERVICE, f"debtors@{adm}")}
        while True:
            seq = self.store.next_seq(f"{SERVICE}.customernumber.{adm}")
            number = str(1000 + len(seed.DEBTORS.get(adm, [])) + seq)
            if number not in used:
                return number

    # draft sales invoices ([I] proposed contract, asperion.md §5)
