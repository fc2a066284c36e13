"""Visma eAccounting API v2 simulator, mounted at /visma (facts: doc/api/visma.md)."""

from .service import VismaService

SERVICE_CLASS = VismaService

__all__ = ["SERVICE_CLASS", "VismaService"]
