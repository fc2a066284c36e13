"""python -m sandbox --port N [--db FILE] [--host 127.0.0.1]: serve every registered simulator."""

import argparse
import errno
import sys

from .core.server import SandboxServer


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default=None, help="SQLite file; state survives restarts")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        server = SandboxServer(args.db, args.port, args.host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"port {args.port} is taken: stop the other process or pass --port")
            return 2
        raise
    print(f"sandbox listening on {server.url} (services: {', '.join(server.services)})")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        server.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
