"""Asperion simulator settings: service name, limits, the defaults of its control config."""

SERVICE = "asperion"
# A25: files of at most 5 MB
MAX_FILE = 5 * 1024 * 1024  # S1: inbox/invoice files are at most 5 MB
RESERVED_QUERY = {"page", "pagesize", "fields", "orderby", "metaonly", "validateonly"}
DEFAULT_CONFIG = {
    # A3: IdentityServer defaults, configurable
    "access_token_lifetime": 3600,  # [I] IdentityServer default
    "refresh_token_lifetime": 30 * 86400,  # [I] IdentityServer default
    "code_lifetime": 300,  # [I] IdentityServer default
    "revoked_administrations": [],
    "retry_after": 1,  # seconds in Retry-After of injected 429s
    # A12: a small default page and a cap
    "default_page_size": 25,  # [I] the real default is unknown
    "max_page_size": 100,
}
