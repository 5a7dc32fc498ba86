#!/usr/bin/env python3
"""The Python course's process-pool web service, as a reference for `ptool serve`.

Flask answers GET /is_prime/<numbers> (comma-separated) by mapping the
course's trial division over a concurrent.futures.ProcessPoolExecutor, as
the course does, and returns {"results": [{"n": N, "prime": bool}, ...]}.
It runs on Werkzeug's threaded server (one thread per connection, Flask's
app.run default).

  python3 bench/flask_isprime.py [--host 127.0.0.1] [--port 0] [--workers N]

Prints the port it listens on (one line on stdout), then serves until it gets
SIGINT or SIGTERM. Needs Flask (Debian: python3-flask).
"""

import argparse
import concurrent.futures
import math
import os
import signal
import sys

try:
    import flask
    from werkzeug.serving import WSGIRequestHandler, make_server
except ImportError:                                    # pragma: no cover
    sys.exit("flask_isprime.py: needs Flask (Debian package python3-flask)")


def is_prime(n):
    """The course's trial division, as written there."""
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    for i in range(3, math.isqrt(n) + 1, 2):
        if n % i == 0:
            return False
    return True


class QuietHandler(WSGIRequestHandler):
    """No access log: a line per request would only slow the reference down."""

    def log_request(self, *args, **kwargs):
        pass


def make_app(pool):
    app = flask.Flask(__name__)

    @app.route("/is_prime/<numbers>")
    def api_is_prime(numbers):
        try:
            number_list = [int(x) for x in numbers.split(",")]
        except ValueError:
            return flask.jsonify(error="not a list of integers"), 400
        results = pool.map(is_prime, number_list)
        return flask.jsonify(results=[{"n": n, "prime": p}
                                      for n, p in zip(number_list, results)])

    @app.route("/healthz")
    def healthz():
        return flask.jsonify(status="ok")

    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port (printed)")
    p.add_argument("--workers", type=int, default=os.cpu_count(),
                   help="worker processes (default: the CPU count)")
    args = p.parse_args()
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.workers) as pool:
        server = make_server(args.host, args.port, make_app(pool), threaded=True,
                             request_handler=QuietHandler)
        print(server.server_port, flush=True)

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
