"""Exact Online simulator, mounted at /exact (facts: doc/api/exact.md)."""

from .service import ExactService

SERVICE_CLASS = ExactService
