"""Pure-Python clients of Exact Online, Asperion and Timewax (no odoo import).

Imported as ``clients`` by the pure tests and as
``odoo.addons.account_bookkeeping_link.clients`` inside Odoo; relative imports only.
"""

from .errors import (  # noqa: F401
    AccessDenied,
    AuthExpired,
    BookkeepingError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryableError,
    ValidationError,
)
