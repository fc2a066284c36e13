"""Local simulators of Exact Online, Asperion and Timewax (not imported by Odoo).

Run ``python -m sandbox --port 8069 --db var/sandbox.sqlite3``; in tests use
``sandbox.server.start_in_thread()``.
"""
