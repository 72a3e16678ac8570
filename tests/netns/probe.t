#!/bin/bash
# probe.t: acmegate-agent's probes run as a CA runs them, from the "home" namespace: an
# authoritative root zone in knotd (so libunbound iterates from root hints), nginx and a
# TLS-ALPN listener in srv, nft drop/reject rules; every class the probes report; delegations to
# special-use name servers the resolver must not ask. Needs root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
AGENT=${AGENT:-$(cd "$here/../.." && pwd)/${B:-build}/acmegate-agent}
tap_require_root
for tool in knotd kdig nginx jq openssl python3; do
	command -v "$tool" >/dev/null || tap_skip_all "$tool is not installed"
done
[ -x "$AGENT" ] || tap_skip_all "$AGENT is not built"
P=prb$$
P=${P:0:10}
trap 'world_down $P' EXIT
world_up "$P" >/dev/null || tap_skip_all "cannot build the test world"
D=$(world_dir "$P")

TOKEN=cHJvYmUtdG9rZW4tZm9yLWFjbWVnYXRlLXRlc3RzMDE   # 43 base64url characters
KA="$TOKEN.dGh1bWJwcmludC1vZi10aGUtYWNjb3VudC1rZXktMDE"
TXT=$(printf %s "$KA" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
CH=/.well-known/acme-challenge
EVIL4=10.9.9.9   # a private address, on home's loopback: where a hostile delegation points

# -- the root zone, served by knotd in ca; probes get root hints pointing at it
start_knot() {
	mkdir -p "$D/knot"
	cat >"$D/knot/knot.conf" <<EOC
server:
  rundir: "$D/knot"
  listen: [ $WORLD_CA4@53, $WORLD_CA6@53 ]
control:
  listen: "$D/knot/knot.sock"
database:
  storage: "$D/knot"
log:
  - target: stderr
    any: notice
zone:
  - domain: .
    file: "$D/knot/root.zone"
    journal-content: none
    zonefile-sync: -1
EOC
	cat >"$D/knot/root.zone" <<EOZ
\$TTL 60
. SOA ns.root.test. hostmaster.root.test. 1 3600 600 86400 60
. NS ns.root.test.
ns.root.test. A $WORLD_CA4
ns.root.test. AAAA $WORLD_CA6
www.site.test. A $WORLD_SRV4
www.site.test. AAAA $WORLD_SRV6
v4only.site.test. A $WORLD_SRV4
_acme-challenge.www.site.test. TXT "$TXT"
_acme-challenge.alias.site.test. CNAME _acme-challenge.www.site.test.
site.test. CAA 0 issue "ca.example"
site.test. CAA 0 issuewild "wild.example"
evil.test. NS ns.evil.test.
ns.evil.test. A $EVIL4
lo.test. NS ns.lo.test.
ns.lo.test. A 127.0.0.1
EOZ
	cat >"$D/root.hints" <<EOH
. 3600000 NS ns.root.test.
ns.root.test. 3600000 A $WORLD_CA4
ns.root.test. 3600000 AAAA $WORLD_CA6
EOH
	world_spawn "$P" ca knotd knotd -c "$D/knot/knot.conf"
	world_wait_for 5 "knotd" world_exec "$P" home kdig +short +time=1 @"$WORLD_CA4" www.site.test A
}

# -- nginx in srv: world_nginx's configuration plus redirects
start_nginx() {
	local root="$D/webroot"
	mkdir -p "$root$CH" "$D/nginx-tmp"
	printf '%s\n' "$KA" >"$root$CH/$TOKEN"
	head -c 200 /dev/zero | tr '\0' a >"$root$CH/big"
	world_nginx_conf "$D" "$root" | sed "s|^\t\troot $root;|&\n$(redirects)|" >"$D/nginx.conf"
	world_exec "$P" srv nginx -t -q -p "$D" -e "$D/nginx-error.log" -c "$D/nginx.conf" || return 1
	world_spawn "$P" srv nginx nginx -p "$D" -e "$D/nginx-error.log" -c "$D/nginx.conf"
	world_wait_for 5 "nginx" world_nginx_answers "$P"
}

redirects() {
	printf '%s\\n' \
		"location = $CH/r307 { return 307 $CH/$TOKEN; }" \
		"location = $CH/r8443 { return 301 https://www.site.test:8443$CH/$TOKEN; }" \
		"location = $CH/r443 { return 301 https://www.site.test$CH/$TOKEN; }" \
		"location = $CH/rloop { return 302 http://www.site.test$CH/rloop; }" \
		"location = $CH/rftp { return 301 ftp://www.site.test$CH/$TOKEN; }"
}

# -- a TLS-ALPN-01 responder in srv (both families on 443)
alpn_server() {
	cat >"$D/alpn.py" <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.set_alpn_protocols(sys.argv[3].split(","))
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 443))
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        ctx.wrap_socket(c, server_side=True).close()
    except (ssl.SSLError, OSError):
        c.close()
PY
	local h
	h=$(printf %s "$KA" | openssl dgst -sha256 -binary | od -An -tx1 | tr -s ' \n' ':' | sed 's/^://; s/:$//')
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=www.site.test" -addext "subjectAltName=DNS:www.site.test" \
		-addext "1.3.6.1.5.5.7.1.31=critical,DER:04:20:$h" \
		-keyout "$D/alpn.key" -out "$D/alpn.pem" 2>/dev/null
}

port443_is() { [ "$(world_tcp_probe "$P" home "$WORLD_SRV4" 443)" = "$1" ]; }

start_alpn() {
	world_spawn "$P" srv "alpn-${1//\//-}" python3 "$D/alpn.py" "$D/alpn.pem" "$D/alpn.key" "$1"
	world_wait_for 5 "the TLS listener" port443_is open
}

stop_alpn() {
	local pid _n log
	while read -r pid _n log; do
		[ "$log" = "alpn-${1//\//-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done <"$D/pids"
	world_wait_for 5 "the TLS listener to stop" port443_is refused
}

# -- a name server at a refused address, in home (where the probes run): answers REFUSED to
# every query and logs each one, so a test can tell whether the resolver asked it
start_bait() {
	cat >"$D/bait.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(4096)
    with open(sys.argv[2], "a") as f:
        f.write("query from %s\n" % peer[0])
    if len(q) >= 12:
        s.sendto(q[:2] + bytes([q[2] | 0x80, (q[3] & 0x70) | 5]) + q[4:], peer)
PY
	world_exec "$P" home ip addr add "$EVIL4/32" dev lo || return 1
	world_spawn "$P" home bait4 python3 "$D/bait.py" "$EVIL4" "$D/bait.log"
	world_spawn "$P" home bait-lo python3 "$D/bait.py" 127.0.0.1 "$D/bait.log"
	world_wait_for 5 "the bait servers" bash -c "[ \$(ss -N $(world_ns "$P" home) -lun | grep -c ':53 ') -ge 2 ]"
}
baited() { if [ -s "$D/bait.log" ]; then sort -u "$D/bait.log" | tr '\n' ' ' | sed 's/ $//'; else echo none; fi; : >"$D/bait.log"; }

start_knot || tap_skip_all "knotd did not start"
start_nginx || tap_skip_all "nginx did not start"
alpn_server || tap_skip_all "openssl could not make the challenge certificate"
start_bait || tap_skip_all "the bait name servers did not start"

ALLOW=(--allow 192.0.2.0/24 --allow 2001:db8::/32 --allow 203.0.113.0/24)
# probe [ARGS...]: the agent's probe from home, as the CA's perspective; JSON on stdout, rc in RC.
probe() {
	OUT=$(world_exec "$P" home "$AGENT" probe --root-hints "$D/root.hints" --dial-timeout 1000 "$@" 2>"$D/probe.err")
	RC=$?
}
# q FILTER: one jq expression over the last probe's output, compact.
q() { printf '%s' "$OUT" | jq -c -r "$1" 2>&1; }
fnft() { world_exec "$P" srv nft "$@"; }

tap_plan 46

# -- http-01
probe "${ALLOW[@]}" http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q '[.ok, .family, .class, [.attempts[] | .family + ":" + .class]]')" \
	'0 [true,"ipv6","ok",["ipv6:ok","ipv4:ok"]]' "http-01: the right body passes over both families"
tap_is "$(q '[.attempts[] | .source]')" "[\"$WORLD_HOME6\",\"$WORLD_HOME4\"]" \
	"http-01: each attempt names its source address"
tap_is "$(q '.attempts[0].hops')" \
	"[{\"url\":\"http://www.site.test$CH/$TOKEN\",\"address\":\"$WORLD_SRV6\",\"port\":80,\"status\":200,\"location\":null,\"class\":\"ok\"}]" \
	"http-01: the hop is recorded"
probe "${ALLOW[@]}" http-01 www.site.test --token "$TOKEN" --key-authorization "$TOKEN.wrong"
tap_is "$RC $(q '[.ok, .class, (.detail | test("did not match this challenge. Expected \"[^\"]*wrong\" \\(got \"'"$TOKEN"'\\."))]')" \
	'1 [false,"wrong-body",true]' "http-01: a wrong key authorization is wrong-body, quoting both"
probe "${ALLOW[@]}" http-01 www.site.test --token missing --key-authorization "$KA"
tap_is "$(q '[.class, .attempts[0].hops[0].status, .detail]')" \
	"[\"http-status\",404,\"$WORLD_SRV6: Invalid response from http://www.site.test$CH/missing: 404\"]" \
	"http-01: a missing file is http-status 404"
probe "${ALLOW[@]}" http-01 www.site.test --token big --key-authorization "$KA"
tap_is "$(q .class)" too-large "http-01: a 200-byte body is too-large"
probe "${ALLOW[@]}" http-01 v4only.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.ok, .family, (.attempts | length)]')" '[true,"ipv4",1]' "http-01: an IPv4-only name has one attempt"
probe "${ALLOW[@]}" http-01 "$WORLD_SRV6" --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.ok, .attempts[0].hops[0].url]')" "[true,\"http://[$WORLD_SRV6]$CH/$TOKEN\"]" \
	"http-01: an IPv6 literal needs no DNS"
probe "${ALLOW[@]}" http-01 www.site.test --token r307 --key-authorization "$KA"
tap_is "$(q '[.ok, [.attempts[0].hops[] | .status]]')" '[true,[307,200]]' "http-01: a 307 to the file is followed"
probe "${ALLOW[@]}" http-01 www.site.test --token r8443 --key-authorization "$KA"
tap_is "$(q '[.class, .attempts[0].hops[0].class, (.detail | test("Invalid port in redirect target.*8443"))]')" \
	'["redirect","redirect",true]' "http-01: a redirect to port 8443 is refused"
probe "${ALLOW[@]}" http-01 www.site.test --token rloop --key-authorization "$KA"
tap_is "$(q '[.class, (.detail | test("Redirect loop"))]')" '["redirect",true]' "http-01: a redirect loop is refused"
probe "${ALLOW[@]}" http-01 www.site.test --token rftp --key-authorization "$KA"
tap_is "$(q '[.class, (.detail | test("protocol scheme"))]')" '["redirect",true]' "http-01: a redirect to ftp is refused"
probe "${ALLOW[@]}" http-01 www.site.test --token r443 --key-authorization "$KA"
tap_is "$(q '[.class, [.attempts[0].hops[] | [.status, .port, .class]]]')" \
	'["refused",[[301,80,"ok"],[null,443,"refused"]]]' "http-01: a redirect to a closed 443 fails on that hop"
probe "${ALLOW[@]}" http-01 nowhere.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.class, (.detail | test("NXDOMAIN"))]')" '["dns",true]' "http-01: NXDOMAIN is class dns naming the rcode"
probe "${ALLOW[@]}" http-01 site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q .class)" no-address "http-01: a name without A/AAAA is no-address"

# a trust anchor the unsigned root cannot match: every answer is bogus
printf '. 3600 IN DS 12345 13 2 %s\n' "$(printf '%064d' 7)" >"$D/bogus.ta"
probe "${ALLOW[@]}" --trust-anchor "$D/bogus.ta" http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.class, (.detail | test("DNSSEC validation failed"))]')" '["dnssec",true]' \
	"http-01: a DNSSEC validation failure is class dnssec"

# -- firewalls in front of port 80
fnft add table inet probe && fnft 'add chain inet probe in { type filter hook input priority -10; }'
fnft add rule inet probe in tcp dport 80 drop
probe "${ALLOW[@]}" http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.class, .family, [.attempts[] | .class]]')" '["dropped","ipv4",["dropped","dropped"]]' \
	"http-01: a drop rule is dropped for both families (IPv4 fallback)"
tap_is "$(q .detail)" \
	"$WORLD_SRV4: Fetching http://www.site.test$CH/$TOKEN: Timeout during connect (likely firewall problem)" \
	"http-01: dropped is worded as Boulder words it"
fnft flush chain inet probe in && fnft add rule inet probe in tcp dport 80 reject
# (a longer dial: in these namespaces the ICMPv6 error for the first SYN goes missing; the
# retransmitted SYN's, a second later, arrives)
probe "${ALLOW[@]}" --dial-timeout 3000 http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.class, [.attempts[] | .class]]')" '["refused",["refused","refused"]]' "http-01: a reject rule is refused"
fnft flush chain inet probe in && fnft add rule inet probe in meta nfproto ipv6 tcp dport 80 drop
probe "${ALLOW[@]}" http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q '[.ok, .family, [.attempts[] | .class]]')" '[true,"ipv4",["dropped","ok"]]' \
	"http-01: IPv6 dropped, IPv4 passes: the CA falls back"
fnft delete table inet probe

# -- the guard
probe --allow "$WORLD_CA4/32" --allow "$WORLD_CA6/128" http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q '[.class, [.attempts[] | .class]]')" '1 ["forbidden",["forbidden","forbidden"]]' \
	"guard: documentation addresses are forbidden unless --allow names them (here only the root's)"
probe http-01 www.site.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q '[.class, .attempts]')" '1 ["dns",[]]' \
	"guard: without --allow the resolver may not even ask the root (a documentation address)"
probe "${ALLOW[@]}" http-01 127.0.0.1 --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q '[.class, (.detail | test("127.0.0.1 is in 127.0.0.0/8"))]')" '1 ["forbidden",true]' \
	"guard: 127.0.0.1 is refused"
probe "${ALLOW[@]}" http-01 www.site.test --key-authorization "$KA"
tap_is "$RC $(grep -c token "$D/probe.err")" "64 1" "usage: http-01 without a token exits 64 and says why"
probe "${ALLOW[@]}" http-01
tap_is "$RC" 64 "usage: a missing name exits 64"

# -- tls-alpn-01
probe "${ALLOW[@]}" tls-alpn-01 www.site.test --key-authorization "$KA"
tap_is "$(q '[.class, [.attempts[] | .class]]')" '["refused",["refused","refused"]]' "tls-alpn-01: nothing on 443 is refused"
start_alpn acme-tls/1
probe "${ALLOW[@]}" tls-alpn-01 www.site.test --key-authorization "$KA"
tap_is "$RC $(q '[.ok, .family, [.attempts[] | [.alpn, .certificate_ok]]]')" '0 [true,"ipv6",[[true,true],[true,true]]]' \
	"tls-alpn-01: acme-tls/1 and the challenge certificate pass"
probe "${ALLOW[@]}" tls-alpn-01 www.site.test --key-authorization "$TOKEN.other"
tap_is "$(q '[.class, [.attempts[] | [.alpn, .certificate_ok]]]')" '["certificate",[[true,false],[true,false]]]' \
	"tls-alpn-01: another key authorization's certificate is class certificate"
probe "${ALLOW[@]}" tls-alpn-01 www.site.test
tap_is "$(q '[.ok, .attempts[0].certificate_ok]')" '[true,null]' "tls-alpn-01: without a key authorization only ALPN is judged"
stop_alpn acme-tls/1
start_alpn h2
probe "${ALLOW[@]}" tls-alpn-01 www.site.test --key-authorization "$KA"
tap_is "$(q '[.class, [.attempts[] | .alpn]]')" '["alpn",[false,false]]' "tls-alpn-01: a server without acme-tls/1 is class alpn"
stop_alpn h2

# -- dns-01
probe "${ALLOW[@]}" dns-01 www.site.test --key-authorization "$KA"
tap_is "$RC $(q '[.ok, .resolver.values, [.servers[] | .address + ":" + .class]]')" \
	"0 [true,[\"$TXT\"],[\"$WORLD_CA6:ok\",\"$WORLD_CA4:ok\"]]" "dns-01: the TXT value is found by the resolver and every server"
probe "${ALLOW[@]}" dns-01 www.site.test --value "$TXT"
tap_is "$(q .ok)" true "dns-01: --value is the expected TXT itself"
probe "${ALLOW[@]}" dns-01 '*.alias.site.test' --key-authorization "$KA"
tap_is "$(q '[.ok, (.servers | length)]')" '[true,2]' "dns-01: a wildcard's CNAME-delegated _acme-challenge is followed"
probe "${ALLOW[@]}" dns-01 v4only.site.test --key-authorization "$KA"
tap_is "$RC $(q '[.class, .resolver.class, [.servers[] | .name + ":" + .class]]')" \
	'1 ["missing","missing",["ns.root.test:missing","ns.root.test:missing"]]' "dns-01: an absent TXT is missing, servers listed"
probe "${ALLOW[@]}" dns-01 www.site.test --key-authorization "$TOKEN.other"
tap_is "$(q '[.class, (.detail | test("Incorrect TXT record"))]')" '["missing",true]' "dns-01: another value is missing"
probe --allow "$WORLD_CA6/128" dns-01 www.site.test --key-authorization "$KA"
tap_is "$(q '[.ok, [.servers[] | .address + ":" + .class]]')" "[true,[\"$WORLD_CA6:ok\",\"$WORLD_CA4:forbidden\"]]" \
	"dns-01: the resolver's verdict stands, a server outside --allow is forbidden"

# -- delegations to name servers the guard refuses: the resolver does not ask them
probe "${ALLOW[@]}" http-01 www.evil.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q '[.class, .attempts]') $(baited)" '1 ["dns",[]] none' \
	"resolver: a delegation to $EVIL4 (private-use) fails as dns, no query reaches it"
probe "${ALLOW[@]}" --allow 10.0.0.0/8 http-01 www.evil.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q .class) $(baited)" "1 dns query from $EVIL4" \
	"resolver: with --allow 10.0.0.0/8 it is asked (and answers REFUSED)"
probe "${ALLOW[@]}" --allow 10.9.0.0/16 --allow 10.9.9.8/32 http-01 www.evil.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(baited)" "query from $EVIL4" "resolver: an allow prefix inside 10.0.0.0/8 opens just that part"
probe "${ALLOW[@]}" --allow 10.9.9.8/32 http-01 www.evil.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q .class) $(baited)" "dns none" "resolver: ... and not its neighbours"
probe "${ALLOW[@]}" http-01 www.lo.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$RC $(q .class) $(baited)" '1 dns none' "resolver: a delegation to 127.0.0.1 fails as dns, no query reaches it"
probe "${ALLOW[@]}" --allow 127.0.0.0/8 http-01 www.lo.test --token "$TOKEN" --key-authorization "$KA"
tap_is "$(q .class) $(baited)" "dns query from 127.0.0.1" "resolver: with --allow 127.0.0.0/8 it is asked"

# -- caa
probe "${ALLOW[@]}" caa www.site.test --ca ca.example
tap_is "$RC $(q '[.ok, .caa.domain, (.caa.records | sort), .caa.permits]')" \
	'0 [true,"site.test",["0 issue \"ca.example\"","0 issuewild \"wild.example\""],true]' "caa: the parent's issue permits ca.example"
probe "${ALLOW[@]}" caa www.site.test --ca other.example
tap_is "$RC $(q '[.class, .caa.permits]')" '1 ["caa-forbids",false]' "caa: another CA is forbidden"
probe "${ALLOW[@]}" caa '*.www.site.test' --ca wild.example
tap_is "$(q '[.ok, .caa.permits]')" '[true,true]' "caa: a wildcard follows issuewild"
probe "${ALLOW[@]}" caa nothing.test --ca ca.example
tap_is "$(q '[.ok, .caa.domain, .caa.records]')" '[true,null,[]]' "caa: no CAA anywhere permits"
