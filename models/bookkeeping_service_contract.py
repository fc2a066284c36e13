"""The service contract: every hook a bookkeeping service implements, declared once.

A service adds itself in ``models/bookkeeping_backend_<service>.py``: it extends the
``service`` selection and overrides the hooks below the way account_peppol extends
account_edi_proxy_client, through ``super()``::

    def _service_test_connection(self):
        if self.service != "myservice":
            return super()._service_test_connection()
        ...

The shared code (engine, wizards, controllers) calls only these hooks and never names a
service. ``tests/test_service_contract.py`` checks that every registered service implements
every hook in its own file. Each docstring says what the hook gets, returns and raises, and
whether it may call the remote package ("remote" below). Remote errors are the
``clients.errors`` types; the engine turns them into states and messages.
"""

from odoo import models
from odoo.exceptions import UserError

# The hooks a service implements, by the capability that needs them (None: every service).
# A service implements the hooks of every capability it declares; hooks with a shared
# default (SERVICE_HOOKS_WITH_DEFAULT) only when it needs to.
HOOKS_BY_CAPABILITY = {
    None: ("capabilities", "make_client", "refresh_token", "test_connection", "setup_check"),
    "oauth": ("authorization_url", "exchange_code", "after_connect"),
    "push": (
        "load_options",
        "check_move",
        "push_move",
        "find_move",
        "attach_pdf",
        "sync_numbers",
        "sync_payments",
        "remote_url",
        # The screens: mapping and readable lists.
        "vat_code_scope",
        "option_is_income",
        "option_type_label",
        "suggest_defaults",
    ),
    "partners": ("partner_vals", "push_partner", "fetch_customers", "partner_match_keys"),
    # The collective booking of B2C invoices ("verzamelboeking", bookkeeping_collective.py).
    "collective": (
        "collective_customer",
        "check_collective_move",
        "push_collective",
        "find_collective",
    ),
}
SERVICE_HOOKS = tuple(hook for hooks in HOOKS_BY_CAPABILITY.values() for hook in hooks)


def required_hooks(capabilities):
    """The hooks a service with ``capabilities`` must implement in its own file."""
    return tuple(
        hook
        for capability, hooks in HOOKS_BY_CAPABILITY.items()
        if capability is None or capability in capabilities
        for hook in hooks
    )


SERVICE_HOOKS_WITH_DEFAULT = ("vat_code_fits", "partner_url")

# What a service can do; the engine and the screens only offer what a service declares.
CAPABILITIES = {
    "push": "Invoices are sent to the service and numbers and payments come back",
    "partners": "Customers are linked, created and imported",
    "oauth": "The link is made with an OAuth login at the service",
    "import": "Invoices are imported from the service into Odoo",
    "collective": "B2C invoices of private persons are booked as one entry per day and journal "
    "on a default customer",
}


class BookkeepingServiceContract(models.AbstractModel):
    """Inherited by ``bookkeeping.backend``: the defaults the services override."""

    _name = "bookkeeping.service.contract"
    _description = "Bookkeeping service contract"

    def _service_unsupported(self, hook):
        raise UserError(
            self.env._(
                "%(service)s does not support %(hook)s.",
                service=self._service_label() or self.service,
                hook=hook,
            )
        )

    # ------------------------------------------------------------------ the link

    def _service_capabilities(self):
        """Which of CAPABILITIES the service has (a set of keys). Local, no remote call."""
        return frozenset()

    def _service_make_client(self, on_call=None, **options):
        """A ``clients`` client for this link, with the token store
        (``self._token_store()``), the rate limiter its client declares and ``on_call`` (the
        call-log collector) attached. ``options`` are service-specific (e.g. no
        administration chosen yet). Local: the client calls only when used. The core sets
        ``client.bookkeeping_log``; use ``self._session()`` rather than calling this."""
        return self._service_unsupported("make_client")

    def _service_authorization_url(self, state, redirect_uri):
        """The URL of the service's login and consent page for the Connect button. Local."""
        return self._service_unsupported("authorization_url")

    def _service_exchange_code(self, code, redirect_uri):
        """Remote: exchange the OAuth code for a token dict (``access_token``,
        ``refresh_token``, ``expires_at``, ``obtained_at``); the core stores it on the
        callback's transaction. Raises ``AuthExpired`` for a refused code."""
        return self._service_unsupported("exchange_code")

    def _service_after_connect(self):
        """Remote: the first link was made. Load what the manager chooses next (the
        administrations) and preselect a sensible one. Returns nothing."""
        return self._service_unsupported("after_connect")

    def _service_refresh_token(self):
        """Remote: force a refresh through the token store (keep-alive cron), so an unused
        refresh token never expires. Raises ``AuthExpired`` for a dead grant."""
        return self._service_unsupported("refresh_token")

    def _service_test_connection(self):
        """Remote: one cheap call. Returns a sentence naming the administration, the user
        and the rate budget where known."""
        return self._service_unsupported("test_connection")

    def _service_load_options(self):
        """Remote: (re)load the remote lists into ``bookkeeping.remote.option`` through
        ``env["bookkeeping.remote.option"]._sync_kind(self, kind, rows)``; rows are dicts
        ``{code, name, percentage, remote_type, extra}``. Returns nothing."""
        return self._service_unsupported("load_options")

    def _service_vat_code_fits(self, tax, option):
        """Local: whether the remote VAT code ``option`` may be suggested for ``tax`` (the
        rate already matches). Default: yes; a service whose codes carry more (a price
        excluding or including VAT) narrows it."""
        return True

    # ------------------------------------------------------------------ the screens

    def _service_vat_code_scope(self, option):
        """Local: where the remote VAT code ``option`` applies, so that a 0% tax gets the
        code of its own kind: "domestic", "eu" (intra-community), "export" (outside the
        EU), "reverse_charge" (domestic reverse charge) or False when the service does not
        say. Read from the remote list's own data (type, country, description)."""
        return self._service_unsupported("vat_code_scope")

    def _service_option_is_income(self, option):
        """Local: whether the remote ledger account ``option`` is an income (revenue)
        account: only those are offered for Odoo's income accounts."""
        return self._service_unsupported("option_is_income")

    def _service_option_type_label(self, option):
        """Local: the remote type of ``option`` in words for the Remote lists tab (e.g.
        "Sales journal", "Excluding VAT", "Revenue"), or False when it has none."""
        return self._service_unsupported("option_type_label")

    def _service_suggest_defaults(self):
        """Local, after the lists were loaded: fill the link's empty defaults (journal,
        item, sales type, debtor kind, ...) where the choice is obvious, so a fresh link
        can send at once. Never overwrites a choice. Returns nothing."""
        return self._service_unsupported("suggest_defaults")

    def _service_setup_check(self):
        """Local: what the link still needs before invoices can go, as sentences that
        name the field to fill (empty: ready). The setup assistant shows them."""
        return self._service_unsupported("setup_check")

    # ------------------------------------------------------------------ invoices

    def _service_check_move(self, move):
        """Local, before any call: a list of messages that say what to fix (empty: the
        invoice can go). The core already checked state, type, country, changes after
        sending, the partner link, and the invoice document's keyed constraints."""
        return self._service_unsupported("check_move")

    def _service_push_move(self, client, move):
        """Remote: send one checked invoice. Returns the result dict: ``remote_id``,
        ``state`` ("done" or "sent_draft"), optional ``remote_ref``, ``remote_number``,
        ``remote_status``, ``remote_amount``, ``remote_payment_state``. Raises
        ``OutcomeUnknown`` when the create may have happened (the engine then calls
        ``find_move`` before any new attempt), ``ValidationError`` for a refusal."""
        return self._service_unsupported("push_move")

    def _service_find_move(self, client, move):
        """Remote: look the invoice up by our reference after an unknown outcome. Returns
        the result dict of ``push_move`` or None when it is not there."""
        return self._service_unsupported("find_move")

    def _service_attach_pdf(self, client, move, **options):
        """Remote: attach the PDF of an invoice booked without one (make it with
        ``self._invoice_pdf(move)``; None: still cannot, it stays pending) and set the
        state with ``move._bookkeeping_pdf_done()``."""
        return self._service_unsupported("attach_pdf")

    def _service_sync_numbers(self, client, moves):
        """Remote, in bulk (never a call per invoice): write the remote number and status
        of the invoices waiting for one, and state ``done``. A deleted draft is reported
        on its invoice."""
        return self._service_unsupported("sync_numbers")

    def _service_sync_payments(self, client, moves):
        """Remote, in bulk: write ``bookkeeping_remote_payment_state`` (open, partial,
        paid) and ``bookkeeping_remote_residual``. Follow the mode each invoice was sent in
        (``move.bookkeeping_invoice_mode``), not the link's current mode."""
        return self._service_unsupported("sync_payments")

    def _service_remote_url(self, move):
        """Local: the URL of the booked invoice in the service's web app, or False."""
        return False

    # ------------------------------------------------------------------ customers

    def _service_partner_url(self, link):
        """Local: the URL of the linked customer (``bookkeeping.partner.link``) in the
        service's web app, or False."""
        return False

    def _service_partner_vals(self, partner):
        """Local: the remote customer fields Odoo has a value for (never an empty one, so
        that remote data is never blanked). Also the digest of 'changed since sent'. The
        core keeps the link itself (``bookkeeping.partner.link``): read it with
        ``self._partner_remote_id(partner)`` / ``self._partner_link(partner)``."""
        return self._service_unsupported("partner_vals")

    def _service_push_partner(self, client, partner, vals, update):
        """Remote: find or create the customer. A found customer is only linked; a linked
        one is written only when ``update`` is true, read-merge-write when the service's
        update replaces the record. Returns ``{remote_id, code, outcome}`` with outcome
        created, linked, updated, unchanged or kept."""
        return self._service_unsupported("push_partner")

    def _service_fetch_customers(self, client):
        """Remote: every remote customer, normalised: ``{remote_id, code, name, vat, coc,
        email, street, zip, city, country_code, raw}`` (partner wizard)."""
        return self._service_unsupported("fetch_customers")

    def _service_partner_match_keys(self):
        """Local: the keys customers are matched on, in order, e.g. ``["vat", "email"]``."""
        return self._service_unsupported("partner_match_keys")

    # ------------------------------------------------------------------ collective booking

    def _service_collective_customer(self, client, code):
        """Remote, one look-up (the core remembers the answer per code): the remote id of
        the customer with ``code`` (the link's Default customer, as the service shows it:
        an account code, a customer number), or None when there is no single one."""
        return self._service_unsupported("collective_customer")

    def _service_check_collective_move(self, move, document):
        """Local, before any call: what stops ``move`` (with its invoice ``document``) from
        going into a collective entry, as messages that say what to fix (e.g. a tax or
        income account without a remote code). The core already checked state, type,
        currency and that the document adds up."""
        return self._service_unsupported("check_collective_move")

    def _service_push_collective(self, client, entry, customer):
        """Remote: create ``entry`` (a ``bookkeeping.collective.entry``) on the default
        customer ``customer``, with ``entry.reference`` as the reference the service
        finds it back by, one line per (remote VAT code, remote revenue account) from
        ``entry._collective_lines()`` with their base and VAT as given (never recomputed).
        Returns ``{remote_id, remote_number, remote_amount}``; raises ``OutcomeUnknown``
        when the create may have happened, ``ValidationError`` for a refusal."""
        return self._service_unsupported("push_collective")

    def _service_find_collective(self, client, entry):
        """Remote: look ``entry`` up by ``entry.reference`` after an unknown outcome (or a
        crash between the call and our commit). The result dict of ``push_collective``, or
        None when the service does not have it."""
        return self._service_unsupported("find_collective")
