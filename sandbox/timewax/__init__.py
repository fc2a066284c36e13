"""Timewax simulator, mounted at /timewax (facts: doc/api/timewax.md)."""

from .service import TimewaxService

SERVICE_CLASS = TimewaxService
