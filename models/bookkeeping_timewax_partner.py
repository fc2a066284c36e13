"""Which Odoo contact a Timewax debtor is, and the memory of every match.

Order: the debtor number (``res.partner.ref``), the client code, the e-mail address, the
exact name. Only a unique hit counts. Each match is remembered per link (debtor number and
client code), so the next invoice of that debtor costs no search and a contact renamed in
Odoo stays matched.
"""

from odoo import api, fields, models

MATCH_LABELS = {
    "memory": "remembered",
    "debtor": "debtor number",
    "client": "client code",
    "email": "e-mail",
    "name": "name",
}


class BookkeepingTimewaxPartner(models.Model):
    _name = "bookkeeping.timewax.partner"
    _description = "Timewax debtor remembered"
    _order = "key_type, key"

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    key_type = fields.Selection(
        [("debtor", "Debtor number"), ("client", "Client code")], required=True
    )
    key = fields.Char(required=True)
    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade")
    matched_by = fields.Char(readonly=True)

    _unique_key = models.Constraint(
        "unique(backend_id, key_type, key)", "A Timewax debtor is remembered once per link."
    )

    @api.model
    def _matcher(self, backend):
        return PartnerMatcher(backend)


class PartnerMatcher:
    """Matching for one run: the memory is read once, and every debtor is looked up once."""

    def __init__(self, backend):
        self.backend = backend
        self.env = backend.env
        self.memory = {
            (row.key_type, row.key): row.partner_id.id for row in backend.timewax_partner_ids
        }
        self.cache = {}

    def _domain(self):
        company = self.backend.company_id
        return [("company_id", "in", (False, company.id)), ("parent_id", "=", False)]

    def _unique(self, domain):
        hits = self.env["res.partner"].search(self._domain() + domain, limit=2)
        return hits.id if len(hits) == 1 else None

    def match(self, invoice):
        """(partner id or None, how it matched: a MATCH_LABELS key)."""
        debtor = (invoice.get("debtorNumber") or "").strip()
        client = (invoice.get("clientCode") or "").strip()
        email = (invoice.get("debtorEmail") or "").strip()
        name = (invoice.get("debtorName") or invoice.get("clientName") or "").strip()
        key = (debtor, client, email.lower(), name)
        if key not in self.cache:
            self.cache[key] = self._match(debtor, client, email, name)
        return self.cache[key]

    def _match(self, debtor, client, email, name):
        if debtor and ("debtor", debtor) in self.memory:
            return self.memory[("debtor", debtor)], "memory"
        if debtor and (found := self._unique([("ref", "=", debtor)])):
            return found, "debtor"
        if client and ("client", client) in self.memory:
            return self.memory[("client", client)], "memory"
        if client and (found := self._unique([("ref", "=", client)])):
            return found, "client"
        if email and (found := self._unique([("email", "=ilike", email)])):
            return found, "email"
        if name and (found := self._unique([("name", "=", name)])):
            return found, "name"
        return None, None

    def remember(self, invoice, partner_id, how):
        """Store the debtor number and client code of a match (or a new contact)."""
        vals_list = []
        for key_type, field in (("debtor", "debtorNumber"), ("client", "clientCode")):
            key = (invoice.get(field) or "").strip()
            if key and (key_type, key) not in self.memory:
                self.memory[(key_type, key)] = partner_id
                vals_list.append(
                    {
                        "backend_id": self.backend.id,
                        "key_type": key_type,
                        "key": key,
                        "partner_id": partner_id,
                        "matched_by": how,
                    }
                )
        if vals_list:
            self.env["bookkeeping.timewax.partner"].create(vals_list)
        self.cache = {k: v for k, v in self.cache.items() if v[0]}  # misses may match now

    def country(self, text):
        """A country from 'NL', 'nl', 'Netherlands' or 'Nederland'; None when unknown,
        False when blank."""
        text = (text or "").strip()
        if not text:
            return False
        Country = self.env["res.country"]
        if len(text) == 2:
            found = Country.search([("code", "=ilike", text)], limit=1)
            if found:
                return found
        found = Country.search([("name", "=ilike", text)], limit=1)
        if not found:
            for lang in ("nl_NL", "en_US"):
                found = Country.with_context(lang=lang).search([("name", "=ilike", text)], limit=1)
                if found:
                    break
        return found or None

    def create_partner(self, invoice, company_data=None):
        """A company contact from the debtor fields (and the client's address from
        ``company/list`` when given)."""
        debtor = (company_data or {}).get("debtor") or {}
        country = self.country(invoice.get("debtorCountry") or debtor.get("country"))
        partner = self.env["res.partner"].create(
            {
                "name": invoice.get("debtorName") or invoice.get("clientName"),
                "is_company": True,
                "company_id": self.backend.company_id.id,
                "ref": invoice.get("debtorNumber") or invoice.get("clientCode") or False,
                "email": invoice.get("debtorEmail") or debtor.get("email") or False,
                "street": debtor.get("address") or False,
                "zip": invoice.get("debtorPostcode") or debtor.get("postcode") or False,
                "city": invoice.get("debtorCity") or debtor.get("city") or False,
                "country_id": country.id if country else False,
            }
        )
        attn = invoice.get("debtorAttn") or debtor.get("attn")
        if attn:
            self.env["res.partner"].create(
                {"name": attn, "parent_id": partner.id, "type": "invoice"}
            )
        return partner
