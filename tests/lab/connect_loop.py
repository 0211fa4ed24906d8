#!/usr/bin/env python3
"""Run inside a lab pod: connect() to IP PORT again and again for SECONDS, and count what
connect() answered: `ok=N eperm=N other=N` (other: any other error, with its errno names)."""
import errno
import socket
import sys
import time

ip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ok = eperm = 0
other = {}
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((ip, port))
        ok += 1
    except PermissionError:
        eperm += 1
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
        other[name] = other.get(name, 0) + 1
    finally:
        s.close()
    time.sleep(0.005)  # at most ~200 a second: TIME_WAIT must not use up the client's ports
print("ok=%d eperm=%d other=%d %s" % (ok, eperm, sum(other.values()),
                                      ",".join("%s:%d" % kv for kv in sorted(other.items()))))
