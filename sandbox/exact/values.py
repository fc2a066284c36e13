"""Exact's value rules: dates, money, numbers and record matching."""

import calendar
import datetime as dt
import re
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import bad
from .settings import (
    CENT,
)


# ---------------------------------------------------------------------------------------
# Values: dates, money
# ---------------------------------------------------------------------------------------
def iso_from_epoch(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(value, field="Datum"):
    """ISO date/datetime or /Date(ms)/ -> 'YYYY-MM-DDTHH:MM:SS'; None stays None."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    match = re.fullmatch(r"/Date\((-?\d+)\)/", text)
    if match:
        return iso_from_epoch(int(match.group(1)) / 1000.0)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "")[:26])
    except ValueError:
        raise bad(f"Ongeldige datum: {field}")
    return parsed.replace(tzinfo=None, microsecond=0).isoformat()


# E21: dates as /Date(ms)/
def odata_date(iso):
    """Exact's '/Date(ms)/': the wall clock encoded as if it were UTC."""
    if iso is None:
        return None
    parsed = dt.datetime.fromisoformat(iso)
    return f"/Date({calendar.timegm(parsed.timetuple()) * 1000})/"


def money(value, field="Bedrag"):
    """Amounts as numbers or strings, rounded half-up to the cent like Exact does."""
    try:
        return float(Decimal(str(value).strip()).quantize(CENT, rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        raise bad(f"Ongeldige waarde: {field}")


def number(value, field):
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        raise bad(f"Ongeldige waarde: {field}")


def add_days(iso, days):
    parsed = dt.datetime.fromisoformat(iso) + dt.timedelta(days=days)
    return parsed.isoformat()


def new_guid():
    return str(uuid.uuid4())


def same(value, wanted):
    if isinstance(value, str) and isinstance(wanted, str):
        return value.strip().casefold() == wanted.strip().casefold()
    return value == wanted
