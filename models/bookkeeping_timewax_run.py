"""A Timewax import run: fetch, plan (the preview), apply, report.

The plan decides per invoice what will happen (create / update / skip / fail, and why)
before anything is written. Applying it writes in chunks: the invoices of a chunk are
created in one batch; when the batch fails, each is created on its own, so one bad
invoice stops only itself. The Timewax id is unique per company on the move, so a crash
or a second run never makes a duplicate: it finds the invoice and skips it.
"""

import logging
from collections import Counter
from decimal import Decimal

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import mute_logger

from ..clients import errors as client_errors
from .bookkeeping_timewax_invoice import TimewaxInvoiceError

_logger = logging.getLogger(__name__)

# Invoices per batch create (and per commit outside tests).
APPLY_CHUNK = 100
ACTIONS = [("create", "Create"), ("update", "Update"), ("skip", "Skip"), ("fail", "Fail")]
DECIMAL_KEYS = frozenset(
    {"amountInclVat", "amountExclVat", "vatAmount", "hours", "rate", "km", "amount"}
)


def to_json(value):
    """Timewax invoices (Decimals inside) as JSON-safe values, for the wizard."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def from_json(value, key=None):
    if isinstance(value, dict):
        return {k: from_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if key in DECIMAL_KEYS and isinstance(value, str):
        return Decimal(value)
    return value


class BookkeepingTimewaxRun(models.AbstractModel):
    _name = "bookkeeping.timewax.run"
    _description = "Timewax import run"

    # ------------------------------------------------------------------ fetch

    @api.model
    def _fetch(self, client, backend, date_from, date_to, client_filter=None, project=None):
        """The Timewax invoices of the range, on the client of a ``backend._session()``.
        Timewax's refusals come as ``clients.errors`` with Timewax's own text."""
        if date_from and date_to and date_from > date_to:
            raise UserError(self.env._("The start date is after the end date."))
        client.bookkeeping_log.operation = "timewax_fetch"
        invoices = client.invoices(
            date_from, date_to, project=project or None, client=client_filter or None
        )
        client.bookkeeping_log.operation = None
        backend._timewax_linked()
        backend._link_works()
        return invoices

    @api.model
    def _fetch_and_plan(
        self, client, backend, date_from, date_to, client_filter=None, project=None
    ):
        invoices = self._fetch(client, backend, date_from, date_to, client_filter, project)
        plan = self._plan(backend, invoices)
        plan["client"] = client
        plan["params"] = {
            "date_from": str(date_from),
            "date_to": str(date_to),
            "client": client_filter or "",
            "project": project or "",
        }
        return plan

    # ------------------------------------------------------------------ plan

    @api.model
    def _plan(self, backend, invoices):
        """``{"entries": [...]}``: one decision per Timewax invoice, nothing written but
        the VAT codes seen (so that the manager can map them)."""
        company = backend.company_id
        ids = [str(inv.get("id") or "") for inv in invoices]
        existing = {
            move.timewax_id: move
            for move in self.env["account.move"]
            .with_context(active_test=False)
            .search([("company_id", "=", company.id), ("timewax_id", "in", [i for i in ids if i])])
        }
        rates = {}
        for inv in invoices:
            for line in inv.get("lines") or []:
                code = (line.get("vatCode") or "").strip()
                excl, vat = line.get("amountExclVat"), line.get("vatAmount")
                if code and code not in rates:
                    rates[code] = (
                        (vat / excl * 100).quantize(Decimal("0.01"))
                        if (excl and vat is not None)
                        else None
                    )
        self.env["bookkeeping.timewax.vat.code"]._note_codes(backend, rates)
        context = {
            "company": company,
            "taxes": {m.code: m.tax_id for m in backend.timewax_vat_code_ids if m.tax_id},
            "suggested": {m.code: m.suggested_tax_id for m in backend.timewax_vat_code_ids},
            "projects": {p.code: p.analytic_account_id for p in backend.timewax_project_ids},
            "currencies": {
                c.name: c
                for c in self.env["res.currency"].with_context(active_test=False).search([])
            },
            "matcher": self.env["bookkeeping.timewax.partner"]._matcher(backend),
        }
        entries = []
        seen = set()
        for inv in invoices:
            entry = self._plan_one(backend, inv, existing, context)
            if entry["timewax_id"] in seen:
                entry.update(
                    action="skip",
                    reason=self.env._("Timewax listed this invoice twice; it is imported once."),
                )
            seen.add(entry["timewax_id"])
            entries.append(entry)
        return {"entries": entries, "invoices": invoices}

    @api.model
    def _plan_one(self, backend, inv, existing, context):
        Invoice = self.env["bookkeeping.timewax.invoice"]
        entry = {
            "timewax_id": str(inv.get("id") or ""),
            "number": inv.get("number") or "",
            "invoice": inv,
            "credit": bool(inv.get("creditNote")),
            "currency": inv.get("currencyCode") or "",
            "debtor": inv.get("debtorName") or inv.get("clientName") or "",
            "project": " ".join(p for p in (inv.get("projectCode"), inv.get("projectName")) if p),
            "amount_total": inv.get("amountInclVat"),
            "amount_tax": Invoice._totals(inv)[0] if inv.get("lines") else None,
            "partner_id": None,
            "partner_how": None,
            "move_id": None,
            "check": None,
            "post": False,
            "lines_text": "",
        }
        try:
            if not entry["timewax_id"]:
                raise TimewaxInvoiceError(self.env._("Timewax sent an invoice without id."))
            digest = Invoice._digest(inv)
            entry["digest"] = digest
            move = existing.get(entry["timewax_id"])
            if move:
                entry["move_id"] = move.id
                if move.timewax_digest == digest:
                    return dict(
                        entry,
                        action="skip",
                        reason=self.env._(
                            "Already imported as %(move)s, unchanged in Timewax.",
                            move=move.display_name,
                        ),
                    )
                if move.state != "draft":
                    return dict(
                        entry,
                        action="skip",
                        changed_posted=True,
                        reason=self.env._(
                            "Timewax changed this invoice after it was posted in Odoo as "
                            "%(move)s; a posted invoice is never touched: correct it with a "
                            "credit note if needed.",
                            move=move.display_name,
                        ),
                    )
                entry["action"] = "update"
                entry["reason"] = self.env._(
                    "Changed in Timewax: the draft %(move)s is updated.", move=move.display_name
                )
            else:
                entry["action"] = "create"
                entry["reason"] = ""
            self._resolve(backend, inv, entry, context)
        except TimewaxInvoiceError as error:
            entry.update(action="fail", reason=str(error))
        return entry

    @api.model
    def _resolve(self, backend, inv, entry, context):
        """Partner, currency, taxes, project and totals of one invoice, or an error."""
        Invoice = self.env["bookkeeping.timewax.invoice"]
        lines = inv.get("lines") or []
        if not lines:
            raise TimewaxInvoiceError(self.env._("Timewax sent this invoice without lines."))
        total = inv.get("amountInclVat")
        if total is not None and total < 0 and not inv.get("creditNote"):
            raise TimewaxInvoiceError(
                self.env._(
                    "The total is negative but Timewax does not mark it as a credit note "
                    "(creditNote=No): correct it in Timewax."
                )
            )
        entry["invoice_date"] = Invoice._invoice_date(inv)
        code = (inv.get("currencyCode") or "").strip().upper()
        currency = context["currencies"].get(code)
        if not code:
            raise TimewaxInvoiceError(self.env._("Timewax sent no currency (currencyCode)."))
        if not currency:
            raise TimewaxInvoiceError(
                self.env._("The currency %(code)s is unknown in Odoo.", code=code)
            )
        if not currency.active:
            raise TimewaxInvoiceError(
                self.env._(
                    "The currency %(code)s is not active in Odoo: activate it (Accounting > "
                    "Configuration > Currencies) and import again.",
                    code=code,
                )
            )
        entry["currency_id"] = currency.id
        tax_lines = []
        for number, line in enumerate(lines, 1):
            vat_code = (line.get("vatCode") or "").strip()
            if line.get("amountExclVat") is None:
                raise TimewaxInvoiceError(
                    self.env._("Line %(n)s has no amount excl. VAT.", n=number)
                )
            tax = context["taxes"].get(vat_code)
            if not tax:
                suggested = context["suggested"].get(vat_code)
                raise TimewaxInvoiceError(
                    self.env._(
                        "The Timewax VAT code %(code)s (line %(n)s) is not mapped to an Odoo "
                        "tax: map it on the link's Timewax VAT codes tab%(hint)s.",
                        code=vat_code or "(blank)",
                        n=number,
                        hint=self.env._(" (suggested: %(tax)s)", tax=suggested.display_name)
                        if suggested
                        else "",
                    )
                )
            tax_lines.append((tax, line["amountExclVat"]))
        entry["tax_ids"] = [tax.id for tax, _amount in tax_lines]
        entry["lines_text"] = "\n".join(
            f"{Invoice._line_text(line).splitlines()[0]}: {line['amountExclVat']:.2f}"
            for line in lines
        )
        # Partner
        partner_id, how = context["matcher"].match(inv)
        if partner_id:
            entry["partner_id"], entry["partner_how"] = partner_id, how
        elif backend.timewax_create_partners:
            country = (inv.get("debtorCountry") or "").strip()
            if country and context["matcher"].country(country) is None:
                raise TimewaxInvoiceError(
                    self.env._(
                        "No contact matches debtor %(debtor)s and its country %(country)s is "
                        "unknown in Odoo: create the contact with reference %(ref)s.",
                        debtor=entry["debtor"],
                        country=country,
                        ref=inv.get("debtorNumber") or inv.get("clientCode") or "-",
                    )
                )
            entry["partner_how"] = "new"
        else:
            raise TimewaxInvoiceError(
                self.env._(
                    "No contact matches debtor %(debtor)s (debtor number %(ref)s, client code "
                    "%(client)s, e-mail %(email)s): create it with reference %(ref)s, or turn "
                    "on 'Create contacts for new debtors' on the link.",
                    debtor=entry["debtor"],
                    ref=inv.get("debtorNumber") or "-",
                    client=inv.get("clientCode") or "-",
                    email=inv.get("debtorEmail") or "-",
                )
            )
        # Project
        project_code = (inv.get("projectCode") or "").strip()
        if (
            project_code
            and project_code not in context["projects"]
            and not backend.timewax_create_analytic
        ):
            raise TimewaxInvoiceError(
                self.env._(
                    "The Timewax project %(project)s has no analytic account: map it on the "
                    "link's Projects tab, or turn on 'Create analytic accounts'.",
                    project=entry["project"],
                )
            )
        # Totals, by Odoo's own tax engine
        odoo_vat, odoo_total = Invoice._odoo_totals(context["company"], currency, tax_lines)
        entry["odoo_tax"], entry["odoo_total"] = odoo_vat, odoo_total
        entry["check"] = Invoice._check_totals(inv, odoo_vat, odoo_total, context["company"])
        entry["post"] = bool(backend.timewax_post and not entry["check"])

    # ------------------------------------------------------------------ apply

    @api.model
    def _apply(self, backend, plan, entries=None):
        """Write the plan (or the given part of its entries); returns the report
        ``{"created", "updated", "skipped", "failed", "flagged", "posted", "reasons"}``."""
        entries = plan["entries"] if entries is None else entries
        report = Counter()
        reasons = []
        if not backend._timewax_lock():
            raise UserError(
                self.env._(
                    "Another Timewax import of link %(name)s is running; try again when it is "
                    "done.",
                    name=backend.name,
                )
            )
        try:
            for start in range(0, len(entries), APPLY_CHUNK):
                chunk = entries[start : start + APPLY_CHUNK]
                self._apply_chunk(backend, plan, chunk, report, reasons)
                backend._commit()
        finally:
            backend._timewax_unlock()
        result = {
            key: report[key]
            for key in ("created", "updated", "skipped", "failed", "flagged", "posted")
        }
        result["reasons"] = reasons
        self._log_report(backend, plan, result)
        return result

    @api.model
    def _apply_chunk(self, backend, plan, chunk, report, reasons):
        Move = self.env["account.move"]
        # Another run may have imported some meanwhile: look again, as one query.
        ids = [e["timewax_id"] for e in chunk if e["action"] in ("create", "update")]
        now_existing = {
            m.timewax_id: m
            for m in Move.search(
                [("company_id", "=", backend.company_id.id), ("timewax_id", "in", ids)]
            )
        }
        todo = []
        for entry in chunk:
            if entry["action"] == "create" and entry["timewax_id"] in now_existing:
                entry.update(
                    action="skip",
                    reason=self.env._(
                        "Imported meanwhile as %(move)s.",
                        move=now_existing[entry["timewax_id"]].display_name,
                    ),
                )
            if entry["action"] in ("skip", "fail"):
                report["skipped" if entry["action"] == "skip" else "failed"] += 1
                if entry.get("changed_posted"):
                    self._note_changed_posted(Move.browse(entry["move_id"]), entry)
                if entry["action"] == "fail" or entry.get("changed_posted"):
                    reasons.append(f"{entry['number'] or entry['timewax_id']}: {entry['reason']}")
                continue
            todo.append(entry)
        if not todo:
            return
        self._prepare_partners_and_projects(backend, plan, todo, report, reasons)
        todo = [e for e in todo if e["action"] != "fail"]
        creates = [e for e in todo if e["action"] == "create"]
        updates = [e for e in todo if e["action"] == "update"]
        moves = self._create_moves(backend, creates, report, reasons)
        for entry in updates:
            moves |= self._update_move(backend, entry, report, reasons)
        self._post_or_flag(backend, moves, {e["timewax_id"]: e for e in todo}, report, reasons)

    @api.model
    def _prepare_partners_and_projects(self, backend, plan, todo, report, reasons):
        matcher = self.env["bookkeeping.timewax.partner"]._matcher(backend)
        companies = None
        for entry in todo:
            inv = entry["invoice"]
            try:
                if not entry["partner_id"]:
                    partner_id, how = matcher.match(inv)  # made by an earlier invoice?
                    if not partner_id:
                        if companies is None:
                            companies = self._companies(plan)
                        partner_id = matcher.create_partner(
                            inv, companies.get(inv.get("clientCode") or "")
                        ).id
                        how = "new"
                    entry["partner_id"], entry["partner_how"] = partner_id, how
                matcher.remember(inv, entry["partner_id"], entry["partner_how"])
                code = (inv.get("projectCode") or "").strip()
                entry["analytic_id"] = False
                if code:
                    mapping = backend.timewax_project_ids.filtered(lambda p, c=code: p.code == c)
                    entry["analytic_id"] = (
                        mapping.analytic_account_id.id
                        if mapping
                        else self.env["bookkeeping.timewax.project"]
                        ._ensure(backend, code, inv.get("projectName"))
                        .id
                    )
            except (UserError, ValueError) as error:
                entry.update(action="fail", reason=str(error))
                report["failed"] += 1
                reasons.append(f"{entry['number']}: {error}")

    @api.model
    def _companies(self, plan):
        """Clients with their address (``company/list``), asked once per run and only when
        a new contact is made; without it the contact gets the invoice's debtor fields."""
        client = plan.get("client")
        if client is None:
            return {}
        try:
            return {c.get("code"): c for c in client.companies()}
        except client_errors.BookkeepingError as error:
            _logger.info("Timewax company/list failed, new contacts get no street: %s", error)
            return {}

    @api.model
    def _move_vals(self, backend, entry):
        Invoice = self.env["bookkeeping.timewax.invoice"]
        inv = entry["invoice"]
        keep = backend.timewax_keep_numbers
        distribution = {str(entry["analytic_id"]): 100} if entry.get("analytic_id") else False
        return {
            "move_type": "out_refund" if entry["credit"] else "out_invoice",
            "partner_id": entry["partner_id"],
            "journal_id": backend._timewax_journal().id,
            "currency_id": entry["currency_id"],
            "invoice_date": entry["invoice_date"],
            "ref": False if keep else entry["number"],
            "narration": Invoice._narration(inv),
            "timewax_backend_id": backend.id,
            "timewax_id": entry["timewax_id"],
            "timewax_number": entry["number"],
            "timewax_keep_number": keep,
            "timewax_digest": entry["digest"],
            "timewax_check": entry["check"] or False,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": Invoice._line_text(line),
                        "quantity": 1.0,
                        "price_unit": float(line["amountExclVat"]),
                        "tax_ids": [Command.set([tax_id])],
                        "analytic_distribution": distribution,
                    }
                )
                for line, tax_id in zip(inv["lines"], entry["tax_ids"], strict=True)
            ],
        }

    @api.model
    def _create_moves(self, backend, entries, report, reasons):
        Move = self.env["account.move"].with_context(
            default_move_type="out_invoice", skip_invoice_sync=False
        )
        if not entries:
            return Move.browse()
        vals_list = [self._move_vals(backend, e) for e in entries]
        try:
            # Muted: a refused batch is expected here and is retried one by one below.
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                moves = Move.create(vals_list)
            report["created"] += len(moves)
            return moves
        except Exception:  # noqa: BLE001 - retried one by one: each failure is its own
            _logger.info("Timewax batch create failed; creating one by one", exc_info=True)
        moves = Move.browse()
        for entry, vals in zip(entries, vals_list, strict=True):
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    moves |= Move.create(vals)
                report["created"] += 1
            except Exception as error:  # noqa: BLE001 - one bad invoice stops only itself
                report["failed"] += 1
                reasons.append(f"{entry['number']}: {self._error_text(error)}")
        return moves

    @api.model
    def _update_move(self, backend, entry, report, reasons):
        move = self.env["account.move"].browse(entry["move_id"])
        vals = self._move_vals(backend, entry)
        vals["invoice_line_ids"] = [Command.clear(), *vals["invoice_line_ids"]]
        vals.pop("timewax_id")
        try:
            with self.env.cr.savepoint():
                move.write(vals)
                move.message_post(
                    body=self.env._("Updated from Timewax: the invoice changed there.")
                )
            report["updated"] += 1
            return move
        except Exception as error:  # noqa: BLE001 - one bad invoice stops only itself
            report["failed"] += 1
            reasons.append(f"{entry['number']}: {self._error_text(error)}")
            return move.browse()

    @api.model
    def _post_or_flag(self, backend, moves, entries, report, reasons):
        """Post the invoices whose totals match (when the link says so); flag the rest.
        The check is made again on the invoice itself: Odoo's stored totals decide."""
        to_post, flagged = moves.browse(), moves.browse()
        for move in moves:
            problem = move.timewax_check or self._recheck(move, entries[move.timewax_id])
            if problem:
                flagged |= move
                if not move.timewax_check:
                    models.Model.write(move, {"timewax_check": problem})
                reasons.append(f"{move.timewax_number}: {problem}")
            elif backend.timewax_post:
                to_post |= move
        for move in flagged:
            move.activity_schedule(
                "mail.mail_activity_data_warning",
                summary=self.env._("Amounts differ from Timewax"),
                note=move.timewax_check,
            )
        report["flagged"] += len(flagged)
        if not to_post:
            return
        try:
            with self.env.cr.savepoint():
                to_post.action_post()
            report["posted"] += len(to_post)
            return
        except Exception:  # noqa: BLE001 - posted one by one below
            _logger.info("Timewax batch post failed; posting one by one", exc_info=True)
        for move in to_post:
            try:
                with self.env.cr.savepoint():
                    move.action_post()
                report["posted"] += 1
            except Exception as error:  # noqa: BLE001 - stays a draft, with the reason
                message = self._error_text(error)
                models.Model.write(
                    move, {"timewax_check": self.env._("Not posted: %(msg)s", msg=message)}
                )
                reasons.append(f"{move.timewax_number}: {message}")

    @api.model
    def _recheck(self, move, entry):
        """The invoice as Odoo stored it against Timewax's VAT and total."""
        return self.env["bookkeeping.timewax.invoice"]._check_totals(
            entry["invoice"],
            Decimal(str(move.amount_tax)).quantize(Decimal("0.01")),
            Decimal(str(move.amount_total)).quantize(Decimal("0.01")),
            move.company_id,
        )

    @api.model
    def _note_changed_posted(self, move, entry):
        """Report a change to a posted invoice once on the invoice itself."""
        if move and move.timewax_check != entry["reason"]:
            models.Model.write(move, {"timewax_check": entry["reason"]})
            move.message_post(body=entry["reason"])

    @api.model
    def _error_text(self, error):
        """What went wrong in words: a UserError's message, or the database's refusal
        (the unique Timewax id: another run imported it first)."""
        text = str(error.args[0]) if error.args else str(error)
        if "unique_timewax_id" in text:
            return self.env._("Imported meanwhile by another run; skipped.")
        return text

    @api.model
    def _log_failure(self, backend, params, message):
        """A run that could not fetch is in the call log too, with what it asked for."""
        self.env["bookkeeping.log"].sudo().create(
            {
                "backend_id": backend.id,
                "company_id": backend.company_id.id,
                "service": backend.service,
                "operation": "timewax_import",
                "method": "IMPORT",
                "path": " ".join(f"{k}={v}" for k, v in params.items() if v),
                "status": 0,
                "outcome": "error",
                "message": message,
            }
        )
        backend.write(
            {"timewax_last_import": fields.Datetime.now(), "timewax_last_result": message}
        )

    @api.model
    def _log_report(self, backend, plan, result):
        """One call-log row per run: its parameters, counts and reasons."""
        params = plan.get("params") or {}
        message = backend._timewax_report_text(result)
        self.env["bookkeeping.log"].sudo().create(
            {
                "backend_id": backend.id,
                "company_id": backend.company_id.id,
                "service": backend.service,
                "operation": "timewax_import",
                "method": "IMPORT",
                "path": " ".join(f"{k}={v}" for k, v in params.items() if v),
                "status": 0,
                "outcome": "error" if result["failed"] else "ok",
                "message": message,
            }
        )
        backend.write(
            {"timewax_last_import": fields.Datetime.now(), "timewax_last_result": message}
        )
