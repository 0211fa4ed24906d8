# SPDX-License-Identifier: Apache-2.0
"""Arguments, TLS and the listening sockets: one (127.0.0.1:--port) by default, or the sockets
a parent hands over with --listen-fd, all served by one store (the lab passes one socket bound
in each node's network namespace and one in the root namespace, all on the same port)."""
import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading

from .certs import make_certs
from .handler import Handler
from .store import State


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that hangs up, or refuses our certificate, is what some tests are about
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def load_objects(state, d):
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(d, name)) as f:
            obj = json.load(f)
        for o in obj.get("items", []) if obj.get("kind") == "List" else [obj]:
            state.apply(o)


def make_server(ctx, state, verbose, fd=None, port=0):
    if fd is None:
        srv = Server(("127.0.0.1", port), Handler)
    else:
        srv = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
        srv.socket = socket.socket(fileno=fd)
    srv.state, srv.verbose = state, verbose
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv


def main(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--listen-fd", type=int, action="append", default=[],
                    help="serve this inherited listening socket (repeatable) instead of --port")
    ap.add_argument("--cert-dir", help="make the PKI here and keep it (default: a temporary "
                    "directory removed at exit)")
    ap.add_argument("--daemon", action="store_true", help="run until SIGTERM; without it the "
                    "server also ends when its standard input closes")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--objects", help="directory of *.json objects to serve")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    workdir = args.cert_dir or tempfile.mkdtemp(prefix="fake-apiserver.")

    def cleanup():
        if not args.cert_dir:
            shutil.rmtree(workdir, ignore_errors=True)

    try:
        os.makedirs(workdir, exist_ok=True)
        make_certs(workdir)
        state = State(args.token)
        if args.objects:
            load_objects(state, args.objects)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(workdir, "server.crt"),
                            os.path.join(workdir, "server.key"))
        # a client certificate is asked for, not required: token users send none
        ctx.load_verify_locations(os.path.join(workdir, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        if args.listen_fd:
            servers = [make_server(ctx, state, args.verbose, fd=fd) for fd in args.listen_fd]
        else:
            servers = [make_server(ctx, state, args.verbose, port=args.port)]
        print("READY port=%d ca=%s other_ca=%s client_cert=%s client_key=%s" % (
              servers[0].server_address[1], os.path.join(workdir, "ca.crt"),
              os.path.join(workdir, "other-ca.crt"), os.path.join(workdir, "client.crt"),
              os.path.join(workdir, "client.key")), flush=True)
        if not args.daemon:
            # the test that started us closes our stdin when it is done, or dies: we go too
            def on_stdin_eof():
                sys.stdin.read()
                cleanup()
                os._exit(0)
            threading.Thread(target=on_stdin_eof, daemon=True).start()
        signal.signal(signal.SIGTERM, lambda *_: (cleanup(), os._exit(0)))
        for srv in servers[1:]:
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers[0].serve_forever()
    finally:
        cleanup()
