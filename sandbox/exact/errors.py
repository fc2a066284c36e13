"""Exact's error answers: the OData error body ({"error": {"message": {"value": ...}}})."""

from werkzeug.wrappers import Response

from ..core.http import json_response


class ODataError(Exception):
    """An error answer: JSON body in Exact's shape (or empty when message is None)."""

    def __init__(self, status, message, headers=None, body=True):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})
        self.body = body

    def response(self):
        if not self.body:
            return Response(b"", status=self.status, headers=self.headers)
        # E29: Exact's error body
        data = {"error": {"code": "", "message": {"lang": "", "value": self.message}}}
        return json_response(data, self.status, self.headers)


def bad(message, status=400):
    return ODataError(status, message)


# E19: an unknown property
def no_property(type_name, name):
    return bad(f"Type '{type_name}' does not have a property named '{name}'.")
