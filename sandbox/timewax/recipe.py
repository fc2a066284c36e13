"""Timewax in the demo, benchmarks and link script: not at all, on purpose (no odoo import).

Timewax is an import source, not a bookkeeping package: nothing is linked or pushed to it,
so it has no link, demo or push-benchmark recipe. Its import benchmark lives with the
importer (``bench/timewax_import.py``). It has no OAuth token either, so the OAuth-based
throughput probe does not apply.
"""

LABEL = "Timewax"
LINK = None
DEMO = None
BENCH = None
THROUGHPUT = None


def remote_documents(state):
    """Timewax holds the invoices we import, never ones we send: always empty."""
    return []
