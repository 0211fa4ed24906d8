#!/bin/bash
# kube_proxy_rules.sh COUNT VIP POD_IP PORT...: iptables-restore input laid out the way kube-proxy's
# iptables mode lays out a node, for COUNT services:
#   nat:    PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC-<hash> (one per service port)
#           -> KUBE-SEP-<hash> (one per endpoint, chosen with `-m statistic --mode random`)
#           -> DNAT; KUBE-MARK-MASQ and KUBE-POSTROUTING for hairpin and off-cluster sources;
#   filter: FORWARD -> KUBE-FORWARD (conntrack accept) and KUBE-SERVICES for NEW connections.
# COUNT-1 filler services (one port, two endpoints at addresses no pod has) come first; the
# measured service (VIP, one endpoint POD_IP, one chain per PORT) is the LAST in KUBE-SERVICES,
# so a new connection to it scans every rule before it, as the last-sorted service would.
# Filler ClusterIPs are in 198.19.64.0/18, away from the lab's and skiffd's addresses.
set -eu
count=$1 vip=$2 pod=$3
shift 3
[ "$count" -ge 1 ] && [ "$count" -le 16000 ] && [ $# -ge 1 ] ||
	{ echo "usage: kube_proxy_rules.sh COUNT(1..16000) VIP POD_IP PORT..." >&2; exit 2; }
awk -v n="$count" -v vip="$vip" -v pod="$pod" -v ports="$*" '
# A chain suffix like kube-proxy`s: 16 base32 characters from a hash of the service port name,
# drawn again on the rare collision (kube-proxy uses SHA-256; the name only has to be unique).
function chain_id(s,    h, i, out, alpha) {
	alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	do {
		h = 5381 + salt++
		for (i = 1; i <= length(s); i++)
			h = (h * 33 + index(alpha "abcdefghijklmnopqrstuvwxyz0123456789/:-.>", substr(s, i, 1))) % 4294967296
		out = ""
		for (i = 0; i < 16; i++) {
			h = (h * 69069 + 1) % 4294967296
			out = out substr(alpha, 1 + int(h / 134217728), 1)
		}
	} while (out in used)
	used[out] = 1
	return out
}
# One service port: its KUBE-SERVICES rule, KUBE-SVC chain and KUBE-SEP chains (eps: "ip ip ...").
function service(name, ip, port, target, eps,    svc, k, ne, e, sep, left) {
	svc = "KUBE-SVC-" chain_id(name)
	ne = split(eps, e, " ")
	chains[++nchains] = svc
	svc_rules[++nsvc] = sprintf("-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j %s", ip, name, port, svc)
	rules[++nrules] = sprintf("-A %s ! -s 198.18.0.0/15 -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport %d -j KUBE-MARK-MASQ", svc, ip, name, port)
	for (k = 1; k <= ne; k++) {
		sep = "KUBE-SEP-" chain_id(name ">" e[k])
		chains[++nchains] = sep
		left = ne - k + 1
		if (left > 1)
			rules[++nrules] = sprintf("-A %s -m comment --comment \"%s -> %s:%d\" -m statistic --mode random --probability %.11f -j %s", svc, name, e[k], target, 1 / left, sep)
		else
			rules[++nrules] = sprintf("-A %s -m comment --comment \"%s -> %s:%d\" -j %s", svc, name, e[k], target, sep)
		rules[++nrules] = sprintf("-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ", sep, e[k], name)
		rules[++nrules] = sprintf("-A %s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:%d", sep, name, e[k], target)
	}
}
BEGIN {
	for (i = 1; i < n; i++)
		service(sprintf("fill/fill-%05d:http", i),
			sprintf("198.19.%d.%d", 64 + int(i / 250), 1 + i % 250), 80, 8080,
			sprintf("198.18.1.%d 198.18.1.%d", 128 + i % 64, 192 + i % 64))
	np = split(ports, p, " ")
	for (k = 1; k <= np; k++)
		service(sprintf("bench/server:%d", p[k]), vip, p[k], p[k], pod)

	print "*filter"
	print ":KUBE-FORWARD - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]"
	print ":KUBE-NODEPORTS - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]"
	print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"load balancer firewall\" -j KUBE-PROXY-FIREWALL"
	print "-A FORWARD -m comment --comment \"forwarding rules\" -j KUBE-FORWARD"
	print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"service portals\" -j KUBE-SERVICES"
	print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"external service portals\" -j KUBE-EXTERNAL-SERVICES"
	print "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
	print "-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT"
	print "-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	print "COMMIT"

	print "*nat"
	print ":KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-NODEPORTS - [0:0]"
	for (k = 1; k <= nchains; k++)
		printf ":%s - [0:0]\n", chains[k]
	print "-A PREROUTING -m comment --comment \"service portals\" -j KUBE-SERVICES"
	print "-A OUTPUT -m comment --comment \"service portals\" -j KUBE-SERVICES"
	print "-A POSTROUTING -m comment --comment \"postrouting rules\" -j KUBE-POSTROUTING"
	print "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
	print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
	print "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
	print "-A KUBE-POSTROUTING -m comment --comment \"traffic requiring SNAT\" -j MASQUERADE --random-fully"
	for (k = 1; k <= nsvc; k++)
		print svc_rules[k]
	print "-A KUBE-SERVICES -m comment --comment \"node ports; last rule\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
	for (k = 1; k <= nrules; k++)
		print rules[k]
	print "COMMIT"
}'
