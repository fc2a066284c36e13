"""Asperion simulator, mounted at /asperion (facts: doc/api/asperion.md)."""

from .service import AsperionService

SERVICE_CLASS = AsperionService
