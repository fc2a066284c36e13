"""Remove secrets from anything that may end up in a log line."""

from __future__ import annotations

import json
import re

MASK = "***"
SECRET_KEYS = frozenset(
    {
        "authorization",
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "token",
        "id_token",
        "code_verifier",
        "proxy-authorization",
        "x-api-key",
        "cookie",
        "set-cookie",
    }
)
EXCERPT_CHARS = 2000

_keys = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
# "key": "value"  /  'key': 'value'
_JSON_RE = re.compile(
    r"""(?i)(["'](?:KEYS)["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""".replace("KEYS", _keys)
)
# key=value in form bodies and query strings
_FORM_RE = re.compile(r"(?i)(?<![\w-])((?:KEYS)=)[^&\s\"']+".replace("KEYS", _keys))
# <password>..</password>, <token>..</token> (Timewax XML), CDATA included
_XML_RE = re.compile(r"(?is)(<(KEYS)>)(.*?)(</\2>)".replace("KEYS", _keys))
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/!=%-]+")


def redact(value):
    """Return ``value`` with secrets masked.

    Dicts/lists are copied with secret keys masked (headers included); strings are
    scanned for JSON, form, XML and ``Authorization``-style secrets.
    """
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and k.lower() in SECRET_KEYS and v not in (None, "")
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if isinstance(value, str):
        value = _JSON_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", value)
        value = _FORM_RE.sub(lambda m: m.group(1) + MASK, value)
        value = _XML_RE.sub(lambda m: m.group(1) + MASK + m.group(4), value)
        value = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", value)
        return value
    return value


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """A redacted, length-capped text of a request/response body for the log."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        try:
            text = json.dumps(redact(value), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(redact(value))
    else:
        text = redact(value)
        if not isinstance(text, str):
            text = str(text)
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more chars]"
    return text
