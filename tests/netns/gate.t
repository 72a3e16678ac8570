#!/bin/bash
# gate.t: the core gate with real nftables in private namespaces (root): a distro geoblock
# (inet filter input, policy drop) plus an nft-geo-filter netdev ingress table; the window
# opens for the challenge path only, for IPv4 and IPv6, closes on close or at its deadline,
# and leaves the ruleset exactly as it was.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
. "$here/../lib/gate.sh"
gate_world gate
world_geoblock "$P" && world_geoblock_ingress "$P"
webroot=$(gate_webroot "$P")
world_nginx "$P" "$webroot" || tap_skip_all "nginx did not start"
gate_conf "$P" ttl=60 >/dev/null
tap_plan 40

CH="/.well-known/acme-challenge/$TOKEN"
V4="http://$WORLD_SRV4"
V6="http://[$WORLD_SRV6]"
before=$(ruleset "$P")

# -- before open
tap_is "$(fetch "$P" home "$V4/index.html")" "http:200:private page" "home reaches the web server"
tap_is "$(fetch "$P" ca "$V4$CH")" timeout "foreign IPv4 source is dropped before open"
tap_is "$(fetch "$P" ca "$V6$CH")" timeout "foreign IPv6 source is dropped before open"

# -- open
out=$(gate "$P" open --lease t1 2>&1); rc=$?
tap_is "$rc" 0 "open succeeds"
tap_like "$out" "inet filter input" "open names the distro chain"
tap_like "$out" "netdev geo-filter filter-chain" "open names the ingress chain"

# -- during the window
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "challenge path answers over IPv4"
tap_is "$(fetch "$P" ca "$V6$CH")" "http:200:$TOKEN.keyauth" "challenge path answers over IPv6"
tap_is "$(fetch "$P" ca "$V4/index.html")" reset "another path is reset (IPv4)"
tap_is "$(fetch "$P" ca "$V6/index.html")" reset "another path is reset (IPv6)"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/../index.html")" reset "dot segments are reset"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/%2e%2e/index.html")" reset \
	"percent-encoded dot segments are reset"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/${TOKEN:0:40}.hh")" reset \
	"a token with a character outside base64url is reset"
tap_is "$(fetch "$P" ca "$V4$CH" -X POST)" reset "a POST to the challenge path is reset"
# crafted segments from a raw socket (the CA host's own kernel must not reset the handshake)
world_exec "$P" ca nft add table ip raw-test
world_exec "$P" ca nft 'add chain ip raw-test out { type filter hook output priority 0; }'
world_exec "$P" ca nft add rule ip raw-test out tcp flags rst drop
seg() { world_exec "$P" ca python3 "$here/../lib/tcp_segment.py" "$WORLD_CA4" "$WORLD_SRV4" 80 "$TOKEN" "$1"; }
tap_is "$(seg valid)" "http:HTTP/1.1 200 OK" "a raw-socket challenge request passes (control)"
tap_is "$(seg overlap)" reset "a segment starting before the stream's first byte is reset"
world_exec "$P" ca nft delete table ip raw-test
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV4" 443)" timeout "tcp/443 stays closed"
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV6" 22)" timeout "tcp/22 stays closed (IPv6)"

# -- a second open of the same lease: no second set of rules
n1=$(our_rules "$P")
gate "$P" open --lease t1 --ttl 120 >/dev/null 2>&1
tap_is "$(our_rules "$P")" "$n1" "reopening a lease adds no rule twice"
tap_like "$(gate "$P" status)" "t1 .*1[12][0-9] s left" "reopening extends the deadline"

# -- close
out=$(gate "$P" close --lease t1 2>&1); rc=$?
tap_is "$rc" 0 "close succeeds"
tap_like "$out" "[1-9][0-9]* challenge requests" "close reports the challenge requests that passed"
tap_is "$(fetch "$P" ca "$V4$CH")" timeout "after close the foreign source is dropped again"
tap_is "$(ruleset "$P")" "$before" "after close the ruleset is what it was before open"
gate "$P" close --lease t1 >/dev/null 2>&1
tap_is "$?" 0 "a second close is fine (idempotent)"

# -- the kernel closes the window at its deadline, without close
gate "$P" open --lease short --ttl 3 >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "a 3 s window answers"
sleep 4
tap_is "$(fetch "$P" ca "$V4$CH")" timeout "after its deadline the window is closed by the kernel"
gate "$P" sweep >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "sweep removes the expired rules"

# -- a port that NAT rewrites to 80 is not the challenge port: it stays closed
world_exec "$P" srv nft 'add table inet nat-test; add chain inet nat-test pre { type nat hook prerouting priority dstnat; }; add rule inet nat-test pre tcp dport 8080 redirect to :80'
gate "$P" open --lease nat >/dev/null 2>&1
tap_is "$(fetch "$P" ca "http://$WORLD_SRV4:8080/index.html")" timeout "a port redirected to 80 does not bypass the gate"
gate "$P" close --lease nat >/dev/null 2>&1
world_exec "$P" srv nft delete table inet nat-test

# -- tls-alpn-01 opens tcp/443, dns opens udp and tcp/53, for both families; nothing else
gate "$P" open --lease other --challenge tls-alpn-01 --challenge dns >/dev/null 2>&1
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV4" 443)/$(world_tcp_probe "$P" ca "$WORLD_SRV6" 443)" \
	refused/refused "tls-alpn-01 lets tcp/443 through (IPv4, IPv6; nothing listens: refused)"
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV4" 53)/$(world_tcp_probe "$P" ca "$WORLD_SRV6" 53)" \
	refused/refused "dns lets tcp/53 through (IPv4, IPv6)"
tap_like "$(world_exec "$P" srv nft list chain inet filter input)" "udp ct original proto-dst 53 ct state != invalid counter" \
	"dns opens udp/53 too"
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV4" 80)" timeout "tcp/80 stays closed without http-01"
gate "$P" close --lease other >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "and close restores the ruleset"

# -- during a window, untrusted home sources see only challenge files too ...
gate "$P" open --lease t2 >/dev/null 2>&1
tap_is "$(fetch "$P" home "$V4$CH")" "http:200:$TOKEN.keyauth" "home reaches the challenge during a window"
tap_is "$(fetch "$P" home "$V4/index.html")" reset "home without trusted_sources sees the path gate"
gate "$P" close --lease t2 >/dev/null 2>&1
# ... and trusted_sources keep the whole site, while the world still sees only challenges
gate_conf "$P" ttl=60 "trusted_sources=198.51.100.0/24, 2001:db8:100::/48" >/dev/null
gate "$P" open --lease t3 >/dev/null 2>&1
tap_is "$(fetch "$P" home "$V4/index.html")" "http:200:private page" "a trusted IPv4 source keeps the whole site"
tap_is "$(fetch "$P" home "$V6/index.html")" "http:200:private page" "a trusted IPv6 source keeps the whole site"
tap_is "$(fetch "$P" ca "$V6/index.html")" reset "the world still sees only challenge files"
gate "$P" close --lease t3 >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "the ruleset is as before"
exit $((TAP_FAILED > 0))
