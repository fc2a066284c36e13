"""Exact simulator settings: service name, limits and the defaults of /_sandbox/exact/config."""

from decimal import Decimal

SERVICE = "exact"
MODELS = "Exact.Web.Api.Models."
MAX_URL = 6000
MAX_ATTACHMENT = 10 * 1024 * 1024
CENT = Decimal("0.01")

DEFAULT_CONFIG = {
    "rate_limit_enabled": True,
    "minutely_limit": 60,
    "daily_limit": 5000,
    "minute_window": 60,  # seconds; tests shrink it (e.g. 2) instead of sleeping a minute
    # E5: 600 s access tokens
    "access_ttl": 600,
    "min_token_age": 570,  # the 570 s rule between two access tokens
    "refresh_ttl": 30 * 86400,
    # E3: a code lives 3 minutes (and works once: core.oauth.take_code)
    "code_ttl": 180,
    "error_cap": False,  # >10 4xx per endpoint per hour -> 403; off by default for test suites
    "error_cap_limit": 10,
}
