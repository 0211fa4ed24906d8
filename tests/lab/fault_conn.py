#!/usr/bin/env python3
"""A held connection for tests/lab/test_faults.sh: connects to ADDR PORT (an echo server), then
sends a line every 0.2 s and reads it back, until DIR/stop exists or the connection fails.
Writes DIR/up after the first echo; prints one line at the end:
  ok N                      N echoes, stopped by DIR/stop
  closed|reset|timeout|error N T WHAT   after N echoes, at epoch time T (float)
A read waits at most TIMEOUT seconds (default 10): "timeout" means the peer went silent."""
import os
import socket
import sys
import time

addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
n = 0


def end(kind, what=""):
    print("%s %d %.3f %s" % (kind, n, time.time(), what), flush=True)
    sys.exit(0)


try:
    s = socket.create_connection((addr, port), timeout=timeout)
except OSError as e:
    end("error", "connect: %s" % e)
while not os.path.exists(os.path.join(d, "stop")):
    try:
        s.sendall(b"ping %d\n" % n)
        want = len(b"ping %d\n" % n)
        got = b""
        while len(got) < want:
            b = s.recv(want - len(got))
            if not b:
                end("closed")
            got += b
    except ConnectionResetError as e:
        end("reset", str(e))
    except BrokenPipeError as e:
        end("reset", str(e))
    except socket.timeout:
        end("timeout")
    except OSError as e:
        end("error", str(e))
    n += 1
    if n == 1:
        open(os.path.join(d, "up"), "w").close()
    time.sleep(0.2)
print("ok %d" % n, flush=True)
