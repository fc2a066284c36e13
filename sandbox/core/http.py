"""JSON/HTTP helpers shared by the sandbox services: responses, bodies, paging, stats paths."""

import json
import re

from werkzeug.wrappers import Response


def json_response(data, status=200, headers=None):
    """A JSON response with an explicit Content-Length (needed for keep-alive)."""
    body = b"" if data is None else json.dumps(data).encode()
    resp = Response(body, status=status, headers=headers)
    if data is not None:
        resp.headers["Content-Type"] = "application/json; charset=utf-8"
    return resp


def empty_response(status=204, headers=None):
    return Response(b"", status=status, headers=headers)


def read_json(request):
    """The request body as JSON, or None when it is empty or malformed."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None


def page(rows, skip, size):
    """Slice one page; returns (rows, next_skip or None)."""
    chunk = rows[skip : skip + size]
    more = skip + size < len(rows)
    return chunk, (skip + size if more else None)


_GUID_KEY = re.compile(r"\(guid'[^']*'\)|\('[^']*'\)|\(\d+L?\)")
_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")
_UUID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}(?=/|$)")


def path_pattern(path):
    """Collapse keys and numbers so stats group requests per endpoint."""
    path = _GUID_KEY.sub("({key})", path)
    path = _UUID_SEGMENT.sub("/{id}", path)
    return _NUMBER_SEGMENT.sub("/{n}", path)
