"""Visma eAccounting API v2 simulator, mounted at /visma (facts: doc/api/visma.md)."""

from .service import VismaService

__all__ = ["VismaService"]
