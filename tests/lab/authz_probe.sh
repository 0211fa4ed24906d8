#!/bin/bash
# Run inside a lab pod: one request per SPEC to IP, printing one word per SPEC on one line.
#   authz_probe.sh IP SPEC...
# SPEC is METHOD|PORT|PATH[|HEADER] for HTTP/1.1 (the word is the status code, or x when the
# connection was refused or reset), or TCP|PORT for a raw TCP echo (ok when 64 bytes came back
# intact, else x). Paths are sent as written (no dot-segment folding by curl).
ip=$1
shift
here=$(dirname "$0")
out=()
for spec in "$@"; do
	IFS='|' read -r method port path header <<<"$spec"
	if [ "$method" = TCP ]; then
		if timeout 20 python3 "$here/echo_check.py" "$ip" "$port" 64 2>/dev/null |
			grep -q 'equal True'; then out+=(ok); else out+=(x); fi
		continue
	fi
	args=(-s -o /dev/null -w '%{http_code}' --max-time 15 --path-as-is -X "$method")
	[ -n "$header" ] && args+=(-H "$header")
	code=$(curl "${args[@]}" "http://$ip:$port$path" 2>/dev/null)
	[ "$code" = 000 ] || [ -z "$code" ] && code=x
	out+=("$code")
done
echo "${out[*]}"
