"""The remote budgets, kept in PostgreSQL, so that every Odoo worker and server sees one count.

A process that learns its budget from response headers on its own collects 429s as soon as
a second process pushes to the same administration (Exact blocks keys that keep erring). So
each budget is one row, and every decision about it (may a call start, what did the answer
tell) is taken on that row under ``SELECT ... FOR UPDATE``, in its own short transaction
that commits at once: the invoice's own transaction is not involved.

A call reserves its slot before it is made. The reservation carries an expiry, so the slot
of a worker that dies in the middle of a call comes back by itself.
"""

import contextlib
import json
import threading
import uuid

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import fields, models

from ..clients.ratelimit import RateLimiter

# Longer than any one request may take (timeouts included): a reservation older than this
# belongs to a worker that died.
RESERVATION_TTL = 300.0

# column -> the limiter's attribute
_COLUMNS = {
    "minute_limit": "minute_limit",
    "minute_remaining": "minute_remaining",
    "minute_reset": "minute_reset",
    "day_limit": "day_limit",
    "day_remaining": "day_remaining",
    "day_reset": "day_reset",
    "blocked_until": "blocked_until",
    "last_start": "_last_start",
}


class BookkeepingRateBudget(models.Model):
    _name = "bookkeeping.rate.budget"
    _description = "Remote API budget"
    _rec_name = "key"
    _order = "key"
    _log_access = False  # written on every call, by SQL: Odoo's audit columns add nothing

    key = fields.Char(required=True, readonly=True, index=True)
    minute_limit = fields.Integer(readonly=True)
    minute_remaining = fields.Integer(readonly=True)
    minute_reset = fields.Float(readonly=True, help="Epoch seconds.")
    day_limit = fields.Integer(readonly=True)
    day_remaining = fields.Integer(readonly=True)
    day_reset = fields.Float(readonly=True, help="Epoch seconds.")
    blocked_until = fields.Float(readonly=True, help="Epoch seconds (a 429's Retry-After).")
    last_start = fields.Float(readonly=True, help="Epoch seconds of the last call started.")
    reservations = fields.Json(readonly=True, help="Calls under way: token -> expiry.")

    _key_unique = models.Constraint("UNIQUE(key)", "A remote budget is kept once.")

    def _forget_all(self):
        """Forget every budget (tests: the sandbox starts afresh), on a cursor of its own."""
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM bookkeeping_rate_budget")


class SharedRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose budget is a row of ``bookkeeping_rate_budget``.

    The decisions are the base class's; only where the budget is kept differs. The row is
    read and locked, changed and committed inside :meth:`_state`, on a cursor of its own
    (``cursor_factory``: the registry's), so two workers never decide on the same count."""

    def __init__(self, key, *, cursor_factory, **options):
        super().__init__(key, **options)
        self.db_key = "|".join(map(str, key)) if isinstance(key, (tuple, list)) else str(key)
        self._cursor_factory = cursor_factory
        self._reservations = {}
        self._held = threading.local()  # the tokens of this thread's calls under way

    def for_key(self, key, **options):
        return SharedRateLimiter(
            key, cursor_factory=self._cursor_factory, now=self.now, sleep=self.sleep, **options
        )

    @contextlib.contextmanager
    def _state(self):
        with self._lock, self._cursor_factory() as cr:
            connection = getattr(cr, "_cnx", None)  # a test cursor has none of its own
            if connection and connection.get_transaction_status() == TRANSACTION_STATUS_IDLE:
                # Odoo's cursors read a snapshot (REPEATABLE READ): a row another worker
                # changed since would fail the lock. Here the latest count is the point.
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self._load(cr)
            yield
            self._save(cr)

    def _load(self, cr):
        select = (
            f"SELECT {', '.join(_COLUMNS)}, reservations FROM bookkeeping_rate_budget "
            "WHERE key = %s FOR UPDATE"
        )
        cr.execute(select, [self.db_key])
        row = cr.fetchone()
        if row is None:
            cr.execute(
                "INSERT INTO bookkeeping_rate_budget (key, reservations) VALUES (%s, '{}') "
                "ON CONFLICT (key) DO NOTHING",
                [self.db_key],
            )
            cr.execute(select, [self.db_key])
            row = cr.fetchone()
        *values, reservations = row
        for attribute, value in zip(_COLUMNS.values(), values, strict=True):
            setattr(self, attribute, value)
        self.blocked_until = self.blocked_until or 0.0
        now = self.now()
        # A reservation past its expiry is the slot of a worker that died: it is free again.
        self._reservations = {
            token: expiry for token, expiry in (reservations or {}).items() if expiry > now
        }
        self.in_flight = len(self._reservations)

    def _save(self, cr):
        cr.execute(
            f"UPDATE bookkeeping_rate_budget SET {', '.join(f'{c} = %s' for c in _COLUMNS)}, "
            "reservations = %s WHERE key = %s",
            [
                *(getattr(self, attribute) for attribute in _COLUMNS.values()),
                json.dumps(self._reservations),
                self.db_key,
            ],
        )

    def _tokens(self):
        if not hasattr(self._held, "tokens"):
            self._held.tokens = []
        return self._held.tokens

    def _take_slot(self, now):
        token = uuid.uuid4().hex
        self._reservations[token] = now + RESERVATION_TTL
        self._tokens().append(token)
        self.in_flight = len(self._reservations)
        self._last_start = now

    def _give_back_slot(self):
        tokens = self._tokens()
        if tokens:
            self._reservations.pop(tokens.pop(), None)
        self.in_flight = len(self._reservations)


class BookkeepingBackendRateBudget(models.Model):
    _inherit = "bookkeeping.backend"

    def _rate_limiter(self, key, **options):
        """The budget of one remote administration (or endpoint), shared by every worker
        of every Odoo server on this database. ``options``: the limiter's (pacing, reserve)."""
        return SharedRateLimiter(key, cursor_factory=self.env.registry.cursor, **options)
