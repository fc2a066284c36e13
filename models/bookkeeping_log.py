"""One row per remote operation, for support and for counting calls."""

from urllib.parse import unquote_plus

from odoo import api, fields, models
from odoo.tools import SQL

from ..clients.redact import redact


class BookkeepingLog(models.Model):
    _name = "bookkeeping.log"
    _description = "Bookkeeping link call log"
    _order = "id desc"

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    # Plain copies, set on create: a related stored field would cost an UPDATE per row.
    company_id = fields.Many2one("res.company", index=True)
    service = fields.Char()
    res_model = fields.Char("Record model")
    res_id = fields.Many2oneReference("Record", model_field="res_model")
    operation = fields.Char()
    method = fields.Char("HTTP method")
    path = fields.Char()
    status = fields.Integer("HTTP status")
    duration_ms = fields.Integer("Duration (ms)", aggregator="avg")
    outcome = fields.Selection([("ok", "OK"), ("retry", "Retried"), ("error", "Error")], index=True)
    message = fields.Text()
    request_excerpt = fields.Text()
    response_excerpt = fields.Text()
    call_count = fields.Integer(default=1, help="Always 1: lets graphs and pivots sum calls.")

    @api.model
    def _collector(self, backend):
        return LogCollector(backend)

    @api.model
    def _flush_collector(self, client):
        collector = getattr(client, "bookkeeping_log", None)
        if collector:
            collector.flush()

    @api.autovacuum
    def _gc_old_logs(self):
        """Purge rows older than the retention of their link, in one statement: the log
        grows by one row per call and nothing refers to it."""
        self.env["bookkeeping.backend"].flush_model(["log_retention_days"])
        self.flush_model(["create_date", "backend_id"])
        self.env.cr.execute(
            SQL(
                """DELETE FROM bookkeeping_log l USING bookkeeping_backend b
                WHERE l.backend_id = b.id
                  AND l.create_date < (now() AT TIME ZONE 'UTC')
                      - make_interval(days => GREATEST(b.log_retention_days, 1))"""
            )
        )
        self.invalidate_model()

    def action_open_record(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }


class LogCollector:
    """The ``on_call`` hook of a client: buffers call records and writes them in one
    ``create`` per flush, so logging costs one INSERT per invoice, not one per call."""

    def __init__(self, backend):
        self.backend = backend
        self.company_id = backend.company_id.id
        self.service = backend.service
        self.record = None
        self.operation = None
        self.buffer = []
        self.calls = 0

    def __call__(self, record):
        self.calls += 1
        self.buffer.append(
            {
                "backend_id": self.backend.id,
                "company_id": self.company_id,
                "service": self.service,
                "res_model": self.record._name if self.record else False,
                "res_id": self.record.id if self.record else False,
                "operation": self.operation or record.get("operation"),
                "method": record.get("method"),
                # Decoded so that "$filter=Code eq '1'" reads as written, not as %24filter=...
                "path": unquote_plus(record.get("path") or "")[:1000],
                "status": record.get("status") or 0,
                "duration_ms": int(record.get("duration_ms") or 0),
                "outcome": record.get("outcome") or "ok",
                "message": redact(record.get("message") or "") or False,
                "request_excerpt": redact(record.get("request_excerpt") or "") or False,
                "response_excerpt": redact(record.get("response_excerpt") or "") or False,
            }
        )

    def flush(self):
        if self.buffer:
            self.backend.env["bookkeeping.log"].sudo().create(self.buffer)
            self.buffer = []
