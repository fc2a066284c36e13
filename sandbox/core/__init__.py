"""The layers every simulated service stands on: store, clock, faults, JSON/HTTP helpers,
OAuth, rate windows, stats, the WSGI app, the control API and the server."""
