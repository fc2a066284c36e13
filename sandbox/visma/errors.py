"""The eAccounting error body (V19) and the exception that carries it."""

import json
import uuid

from werkzeug.wrappers import Response


class ApiError(Exception):
    """An error answered as ``{ErrorCode, DeveloperErrorMessage, ErrorId, Errors}`` (V19)."""

    def __init__(self, status, code, message, errors=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors or None
        self.headers = headers or {}

    def body(self):
        return {
            "ErrorCode": self.code,
            "DeveloperErrorMessage": self.message,
            "ErrorId": str(uuid.uuid4()),
            "Errors": self.errors,
        }

    def response(self):
        # V21: the 429 comes as application/json;charset=UTF-8, like every error here
        resp = Response(
            json.dumps(self.body()),
            status=self.status,
            content_type="application/json;charset=UTF-8",
        )
        resp.headers.update(self.headers)
        return resp


class FieldErrors:
    """Collects per-field problems of one request into one 400 (V19, V20)."""

    def __init__(self):
        self.items = []
        self.code = 2000

    def add(self, field, message, code=2000):
        if not self.items:
            self.code = code
        self.items.append(
            {"Field": field, "ErrorCode": str(code), "Message": message, "Key": field}
        )

    def raise_if_any(self):
        if self.items:
            summary = "; ".join(f"{e['Field']}: {e['Message']}" for e in self.items)
            raise ApiError(400, self.code, summary, self.items)


def not_found(what, id_):
    # V20: an id in the URL that does not exist
    return ApiError(404, 3000, f"ResourceNotFoundException - {what} {id_} was not found.")
