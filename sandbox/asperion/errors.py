"""Asperion's error answers: problem+json bodies, their texts in Dutch and English, field errors."""

from decimal import ROUND_HALF_UP, Decimal

from .schema import (
    CENT,
)

# (nl, en) texts; nl is the default language (Accept-Language picks en)
MESSAGES = {
    "validation": (
        "Er zijn een of meer validatiefouten opgetreden.",
        "One or more validation errors occurred.",
    ),
    "unauthorized": ("Niet geautoriseerd", "Unauthorized"),
    "unauthorized_detail": (
        "Het toegangstoken ontbreekt, is verlopen of ingetrokken.",
        "The access token is missing, expired or revoked.",
    ),
    "forbidden": ("Geen toegang", "Forbidden"),
    "forbidden_detail": (
        "U heeft geen toegang tot administratie {id}.",
        "You have no access to administration {id}.",
    ),
    "not_found": ("Niet gevonden", "Not Found"),
    "not_found_detail": (
        "{resource} met id {id} is niet gevonden.",
        "{resource} with id {id} was not found.",
    ),
    "route_detail": ("Het endpoint {path} bestaat niet.", "The endpoint {path} does not exist."),
    "method": ("Methode niet toegestaan", "Method Not Allowed"),
    "method_detail": (
        "{method} is niet toegestaan op {path}.",
        "{method} is not allowed on {path}.",
    ),
    "too_large": ("Bestand te groot", "Payload Too Large"),
    "too_large_detail": ("Het bestand is groter dan 5 MB.", "The file is larger than 5 MB."),
    "throttled": ("Te veel verzoeken", "Too Many Requests"),
    "throttled_detail": (
        "Probeer het over {seconds} seconden opnieuw.",
        "Try again in {seconds} seconds.",
    ),
    "unavailable": ("Dienst niet beschikbaar", "Service Unavailable"),
    "unavailable_detail": (
        "De dienst is tijdelijk niet beschikbaar.",
        "The service is temporarily unavailable.",
    ),
    "required": ("Het veld {field} is verplicht.", "The {field} field is required."),
    "unknown": ("{field} '{value}' bestaat niet.", "{field} '{value}' does not exist."),
    "not_sales": (
        "BTW-code '{value}' is geen verkoopcode.",
        "VAT code '{value}' is not a sales code.",
    ),
    "vat_expired": (
        "BTW-code '{value}' is niet geldig op {date}.",
        "VAT code '{value}' is not valid on {date}.",
    ),
    "duplicate": ("{field} '{value}' is al in gebruik.", "{field} '{value}' is already in use."),
    "invalid": (
        "De waarde '{value}' is ongeldig voor {field}.",
        "The value '{value}' is not valid for {field}.",
    ),
    "disabled": (
        "Grootboekrekening {value} is geblokkeerd.",
        "Ledger account {value} is disabled.",
    ),
    "not_sales_journal": (
        "Dagboek {value} is geen verkoopboek.",
        "Journal {value} is not a sales journal.",
    ),
    "no_lines": (
        "Een factuur moet minstens een regel hebben.",
        "An invoice must have at least one line.",
    ),
    "bad_body": (
        "De request body is geen geldig JSON-object.",
        "The request body is not a valid JSON object.",
    ),
}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    413: "https://tools.ietf.org/html/rfc7231#section-6.5.11",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
}


# A10: Accept-Language picks the language of error texts
def request_lang(request):
    accept = (request.headers.get("Accept-Language") or "").strip().lower()
    return 1 if accept.startswith("en") else 0


def message_text(key, lang, **params):
    return MESSAGES[key][lang].format(**params)


def money(value):
    """Round half up to the cent, as a float for JSON."""
    return float(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


class ApiError(Exception):
    """An error answered as ProblemDetails; texts are rendered in the caller's language."""

    def __init__(self, status, title, detail=None, errors=None, headers=None, **params):
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers, self.params = errors or [], headers or {}, params


class FieldErrors:
    """Collects (field, message key, params) like ASP.NET's ModelState."""

    def __init__(self):
        self.items = []

    def add(self, name, key, **params):
        self.items.append((name, key, params))

    def raise_if_any(self):
        if self.items:
            raise ApiError(400, "validation", errors=self.items)
