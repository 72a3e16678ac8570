#!/bin/bash
# forward.t: a web server behind DNAT, as Docker publishes it (root, private namespaces). The
# server forwards tcp/80 to a "container" namespace on port 8080; the geoblock lives in the
# forward chain. With forward = yes the window opens there, matching the original destination
# port, so only the published challenge port becomes reachable.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
. "$here/../lib/gate.sh"
gate_world fwd
CTR=$P-ctr
CTR4=192.0.2.200   # the container; the server reaches it over its own veth
SRVGW4=192.0.2.201
CTR_PID=""
cleanup() {
	[ -n "$CTR_PID" ] && kill "$CTR_PID" 2>/dev/null && wait "$CTR_PID" 2>/dev/null
	ip netns del "$CTR" 2>/dev/null
	world_down "$P"
}
trap cleanup EXIT

# the container: its own namespace, a veth to the server, nginx on 8080
container_up() {
	ip netns add "$CTR" &&
	ip -n "$P-srv" link add ctr0 type veth peer name eth0 netns "$CTR" &&
	ip -n "$P-srv" addr add "$SRVGW4/32" dev ctr0 &&
	ip -n "$P-srv" link set ctr0 up &&
	ip -n "$P-srv" route add "$CTR4/32" dev ctr0 &&
	ip -n "$CTR" link set lo up &&
	ip -n "$CTR" addr add "$CTR4/32" dev eth0 &&
	ip -n "$CTR" link set eth0 up &&
	ip -n "$CTR" route add "$SRVGW4/32" dev eth0 &&
	ip -n "$CTR" route add default via "$SRVGW4" &&
	world_sysctl "$P" srv net.ipv4.ip_forward=1 &&
	ip -n "$P-rt" route add "$CTR4/32" via "$WORLD_SRV4"
}
container_up || tap_skip_all "cannot build the container namespace"
webroot=$(gate_webroot "$P")
ctrdir="$(world_dir "$P")/ctr"
mkdir -p "$ctrdir/nginx-tmp"
world_nginx_conf "$ctrdir" "$webroot" | sed 's/listen 80;/listen 8080;/; /listen \[::\]:80/d' >"$ctrdir/nginx.conf"
ip netns exec "$CTR" nginx -p "$ctrdir" -e "$ctrdir/nginx-error.log" -c "$ctrdir/nginx.conf" \
	>/dev/null 2>&1 </dev/null &
CTR_PID=$!
printf '%s\n' \
	'table inet filter {' \
	'	set allow4 { type ipv4_addr; flags interval; elements = { 198.51.100.0/24 }; }' \
	'	chain input { type filter hook input priority filter; policy drop;' \
	'		ct state established,related accept' \
	'		iif "lo" accept' \
	'		ip saddr @allow4 accept' \
	'	}' \
	'	chain forward { type filter hook forward priority filter; policy drop;' \
	'		ct state established,related accept' \
	'		ip saddr @allow4 accept' \
	'	}' \
	'}' \
	'table ip nat {' \
	'	chain prerouting { type nat hook prerouting priority dstnat; policy accept;' \
	"		fib daddr type local tcp dport 80 dnat to $CTR4:8080" \
	'	}' \
	'}' | world_exec "$P" srv nft -f - || tap_skip_all "cannot load the ruleset"
tap_plan 12
CHP="/.well-known/acme-challenge/$TOKEN"
CH="http://$WORLD_SRV4$CHP"
for _ in $(seq 25); do [ "$(fetch "$P" home "$CH")" = "http:200:$TOKEN.keyauth" ] && break; sleep 0.2; done
tap_is "$(fetch "$P" home "$CH")" "http:200:$TOKEN.keyauth" "home reaches the container through DNAT"
tap_is "$(fetch "$P" ca "$CH")" timeout "the CA's host is dropped in the forward chain"
before=$(ruleset "$P")

gate_conf "$P" ttl=60 >/dev/null
out=$(gate "$P" open --lease noforward 2>&1)
tap_like "$out" "forward chain can drop traffic .* set 'forward = yes'" "forward = no says what to set"
tap_is "$(fetch "$P" ca "$CH")" timeout "forward = no leaves the container closed"
gate "$P" close --lease noforward >/dev/null 2>&1

gate_conf "$P" ttl=60 forward=yes >/dev/null
out=$(gate "$P" open --lease fwd 2>&1)
tap_like "$out" "inet filter forward" "forward = yes opens the forward chain"
tap_is "$(fetch "$P" ca "$CH")" "http:200:$TOKEN.keyauth" "the CA reaches the challenge in the container"
tap_is "$(fetch "$P" ca "http://$WORLD_SRV4/index.html")" reset "other paths are reset before DNAT"
tap_is "$(fetch "$P" ca "http://$CTR4:8080$CHP")" timeout "the container's own port stays closed"
tap_is "$(world_tcp_probe "$P" ca "$CTR4" 80)" timeout "routed traffic to port 80 without DNAT stays closed"
gate "$P" close --lease fwd >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$CH")" timeout "after close the container is closed again"
tap_is "$(ruleset "$P")" "$before" "the ruleset is as before"

# a router whose geoblock sits on ingress: opening for this host opens nothing routed
world_exec "$P" srv nft flush ruleset
world_geoblock_ingress "$P"
gate_conf "$P" ttl=60 >/dev/null
gate "$P" open --lease ingress >/dev/null 2>&1
tap_is "$(world_tcp_probe "$P" ca "$CTR4" 80)" timeout "routed traffic stays closed behind an ingress geoblock"
gate "$P" close --lease ingress >/dev/null 2>&1
exit $((TAP_FAILED > 0))
