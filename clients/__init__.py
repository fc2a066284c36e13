"""Pure-Python clients of Exact Online, Asperion and Timewax (no odoo import).

Imported as ``clients`` by the pure tests and as
``odoo.addons.account_bookkeeping_link.clients`` inside Odoo; relative imports only.

- ``errors``: the typed errors every client raises;
- ``oauth``: ``TokenStore`` protocol, ``OAuth2Client``, ``MemoryTokenStore``;
- ``ratelimit``: ``RateLimiter`` and the process-wide ``limiter_for(key)``;
- ``http``: ``ApiClient`` (timeouts, safe retries, call records) and ``redact``;
- ``exact``, ``asperion``, ``timewax``: the service clients.
"""

from .asperion import AsperionClient
from .errors import (
    AccessDenied,
    AuthExpired,
    BookkeepingError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryableError,
    ValidationError,
)
from .exact import ExactClient
from .http import ApiClient, redact
from .oauth import MemoryTokenStore, OAuth2Client, TokenStore
from .ratelimit import RateLimiter, limiter_for
from .timewax import TimewaxClient

__all__ = [
    "AccessDenied",
    "ApiClient",
    "AsperionClient",
    "AuthExpired",
    "BookkeepingError",
    "ExactClient",
    "MemoryTokenStore",
    "NotFound",
    "OAuth2Client",
    "OutcomeUnknown",
    "RateLimited",
    "RateLimiter",
    "RetryableError",
    "TimewaxClient",
    "TokenStore",
    "ValidationError",
    "limiter_for",
    "redact",
]
