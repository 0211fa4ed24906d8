#!/usr/bin/env python3
# The kernel's backends for one service port as connect() sees them now: the skiff_services entry
# of VIP:PORT (newest generation) and the skiff_backends slots it points at, one line per slot:
# "IP:PORT in" (picked with a share > 0) or "IP:PORT out" (family 0 or no share: never picked).
#   backend_slots.py PIN_DIR VIP PORT
import json
import socket
import struct
import subprocess
import sys

pin, vip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])


def dump(name):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", pin + "/" + name],
                         check=True, capture_output=True, text=True).stdout
    return [e["formatted"] for e in json.loads(out)]


def ip4(v4):
    return socket.inet_ntoa(struct.pack("<I", v4))


svcs = [e for e in dump("skiff_services")
        if ip4(e["key"]["addr"]["v4"]) == vip and socket.ntohs(e["key"]["port"]) == port]
if not svcs:
    sys.exit("no skiff_services entry for %s:%d" % (vip, port))
svc = max(svcs, key=lambda e: e["key"]["gen"])
gen, sid = svc["key"]["gen"], svc["value"]["svc_id"]
slots = sorted((e["key"]["slot"], e["value"]) for e in dump("skiff_backends")
               if e["key"]["gen"] == gen and e["key"]["svc_id"] == sid
               and e["key"]["slot"] < svc["value"]["count"])
prev = 0
for _, v in slots:
    width, prev = v["weight_end"] - prev, v["weight_end"]
    state = "in" if v["family"] and width > 0 else "out"
    print("%s:%d %s" % (ip4(v["addr"]["v4"]), socket.ntohs(v["port"]), state))
