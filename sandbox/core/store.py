"""SQLite-backed document store shared by the sandbox services.

Reads are served from an in-memory cache (the sandbox holds little data and must answer
hundreds of requests per second); every write goes through to SQLite at once, so the state
survives a restart. One lock serialises all access, which keeps it thread-safe.
"""

import json
import os
import sqlite3
import tempfile
import threading
import uuid

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE (service, kind, id));
CREATE TABLE IF NOT EXISTS seqs (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Generic JSON documents keyed by (service, kind, id), plus sequences and a kv map."""

    def __init__(self, path=None):
        self._tmp = None
        if path is None:
            fd, path = tempfile.mkstemp(prefix="sandbox-", suffix=".sqlite3")
            os.close(fd)
            os.unlink(path)  # let sqlite create it: an empty file counts as new too
            self._tmp = path
        self.path = path
        self.is_new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._load()

    def _load(self):
        self._docs = {}  # (service, kind) -> {id: dict}; dicts keep insertion order
        for service, kind, id_, data in self._db.execute(
            "SELECT service, kind, id, data FROM docs ORDER BY pos"
        ):
            self._docs.setdefault((service, kind), {})[id_] = json.loads(data)
        self._kv = {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM kv")}

    def close(self):
        with self._lock:
            self._db.close()
            if self._tmp:
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.unlink(self._tmp + suffix)
                    except OSError:
                        pass

    # -- documents -------------------------------------------------------------
    def insert(self, service, kind, data, id=None):
        id_ = str(id) if id is not None else str(uuid.uuid4())
        doc = json.loads(json.dumps(data))  # detach from the caller's objects
        with self._lock:
            self._db.execute(
                "INSERT INTO docs (service, kind, id, data) VALUES (?, ?, ?, ?)",
                (service, kind, id_, json.dumps(doc)),
            )
            self._docs.setdefault((service, kind), {})[id_] = doc
        return id_

    def get(self, service, kind, id):
        with self._lock:
            doc = self._docs.get((service, kind), {}).get(str(id))
            return json.loads(json.dumps(doc)) if doc is not None else None

    def update(self, service, kind, id, data):
        """Replace the document (callers merge first when they want a partial update)."""
        doc = json.loads(json.dumps(data))
        with self._lock:
            bucket = self._docs.get((service, kind), {})
            if str(id) not in bucket:
                raise KeyError(id)
            self._db.execute(
                "UPDATE docs SET data = ? WHERE service = ? AND kind = ? AND id = ?",
                (json.dumps(doc), service, kind, str(id)),
            )
            bucket[str(id)] = doc

    def delete(self, service, kind, id):
        with self._lock:
            self._db.execute(
                "DELETE FROM docs WHERE service = ? AND kind = ? AND id = ?",
                (service, kind, str(id)),
            )
            self._docs.get((service, kind), {}).pop(str(id), None)

    def all(self, service, kind):
        """All documents of a kind, in insertion order (copies)."""
        with self._lock:
            return json.loads(json.dumps(list(self._docs.get((service, kind), {}).values())))

    def view(self, service, kind):
        """Read-only fast path: the cached documents themselves. Callers must not mutate."""
        with self._lock:
            return list(self._docs.get((service, kind), {}).values())

    def kinds(self, service):
        with self._lock:
            return sorted(k for s, k in self._docs if s == service)

    # -- sequences and settings ------------------------------------------------
    def next_seq(self, name):
        """Next value of a named sequence: never reused, even across reset() and restarts."""
        with self._lock:
            row = self._db.execute("SELECT value FROM seqs WHERE name = ?", (name,)).fetchone()
            value = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO seqs (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
            return value

    def kv_get(self, key, default=None):
        with self._lock:
            value = self._kv.get(key, default)
            return json.loads(json.dumps(value)) if value is not default else default

    def kv_set(self, key, value):
        with self._lock:
            self._db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
            self._kv[key] = json.loads(json.dumps(value))

    def reset(self, service=None):
        """Drop the documents and settings (kv keys '<service>:...') of one or all services.

        Sequences are kept on purpose: numbers handed out must never come back.
        """
        with self._lock:
            if service is None:
                self._db.execute("DELETE FROM docs")
                self._db.execute("DELETE FROM kv")
            else:
                self._db.execute("DELETE FROM docs WHERE service = ?", (service,))
                self._db.execute("DELETE FROM kv WHERE key LIKE ?", (service + ":%",))
            self._load()
