#!/bin/bash
# responder.t: the http-01 responder (acmegate responder) in private namespaces (root): the
# world's tcp/80 is redirected to it in nat, ahead of other nat; it answers only the challenge
# (from a webroot, or relayed to the local nginx), refuses every attack while the challenge
# still works, never lets an attack reach nginx, leaves trusted sources to nginx, runs as
# nobody and stops by itself at its deadline. Then the same through `acmegate open --mode
# responder` and `close`, which leave the ruleset exactly as it was.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
. "$here/../lib/gate.sh"
gate_world resp
world_geoblock "$P"
webroot=$(gate_webroot "$P")
chmod -R a+rX "$webroot"   # as a real webroot: the responder reads it as nobody
world_nginx "$P" "$webroot" || tap_skip_all "nginx did not start"
dir=$(world_dir "$P")
tap_plan 86

PORT=8402
CH="/.well-known/acme-challenge/$TOKEN"
V4="http://$WORLD_SRV4"
V6="http://[$WORLD_SRV6]"
ACCESS="$dir/nginx-access.log"
world_lines() { grep -cE "^($WORLD_CA4|$WORLD_CA6) " "$ACCESS"; }
local_lines() { grep -cE "^127\.0\.0\.1 " "$ACCESS"; }
raw() { world_exec "$P" ca python3 "$here/../lib/raw_http.py" "$WORLD_SRV4" 80 "$@"; }
tap_unlike() { if printf '%s' "$1" | grep -Eq -- "$2"; then tap_not_ok "$3"; tap_diag "got: '$1'"; else tap_ok "$3"; fi; }

# responder NAME ARGS...: starts acmegate responder in srv; its log is WORLD_DIR/NAME.log
responder() {
	local name=$1
	shift
	world_spawn "$P" srv "$name" "$ACMEGATE_BIN" responder "$@"
	world_wait_for 5 "the responder" grep -q serving "$dir/$name.log" || world_tail "$dir/$name.log"
}
responder_pid() { awk -v n="$1" '$3 == n { p = $1 } END { print p }' "$dir/pids"; }
responder_stop() {
	world_exec "$P" srv kill -TERM "$(responder_pid "$1")"
	world_wait_for 8 "responder $1 to stop" grep -q "stopped on" "$dir/$1.log"
}

# By hand, what a window in responder mode installs: the redirect in our own table, ahead of
# dstnat, trusted sources returning first; and an opener at the head of the geoblock's input
# chain that judges the port before NAT (ct original proto-dst 80), as acmegate's openers do.
deadline=$(date -u -d @$(($(date +%s) + 600)) '+%Y-%m-%d %H:%M:%S')
srvnft() { world_exec "$P" srv env TZ=UTC nft "$@"; }
srvnft add table inet acmegate
srvnft add chain inet acmegate responder '{ type nat hook prerouting priority -101; policy accept; }'
srvnft add rule inet acmegate responder meta nfproto ipv4 ip saddr 198.51.100.0/24 return
srvnft add rule inet acmegate responder meta nfproto ipv6 ip6 saddr 2001:db8:100::/48 return
srvnft add rule inet acmegate responder meta iiftype != loopback fib daddr type local \
	meta time \< "\"$deadline\"" tcp dport 80 counter redirect to :$PORT
srvnft insert rule inet filter input meta time \< "\"$deadline\"" meta l4proto tcp \
	ct original proto-dst 80 ct state != invalid counter accept

# -- webroot mode
responder web --port "$PORT" --until $(($(date +%s) + 120)) --webroot "$webroot"
tap_is "$(ps -o user= -p "$(responder_pid web)")" nobody "the responder runs as nobody after binding"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the challenge answers from the webroot over IPv4"
tap_is "$(fetch "$P" ca "$V6$CH")" "http:200:$TOKEN.keyauth" "the challenge answers from the webroot over IPv6"
tap_like "$(world_exec "$P" ca curl -s -i -m 4 "$V4$CH" | tr -d '\r')" "Connection: close" \
	"every answer says Connection: close"
tap_like "$(srvnft list chain inet filter input)" "ct original proto-dst 80 ct state != invalid counter packets [1-9]" \
	"the redirected connections passed the input chain by their original port"

# -- attacks, each refused
tap_is "$(fetch "$P" ca "$V4/index.html")" "http:404:not found" "another path is refused"
tap_is "$(fetch "$P" ca "$V6/")" "http:404:not found" "the site's root is refused (IPv6)"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/../index.html")" "http:404:not found" \
	"dot segments are refused"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/%2e%2e/index.html")" "http:404:not found" \
	"percent-encoded dot segments are refused"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/%5A${TOKEN:1}")" "http:404:not found" \
	"a percent-encoded token is refused"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/${TOKEN:0:40}.hh")" "http:404:not found" \
	"a token with a character outside base64url is refused"
tap_is "$(fetch "$P" ca "$V4$CH?x=1")" "http:404:not found" "a query string is refused"
tap_is "$(fetch "$P" ca "$V4$CH" -X POST -d x=1)" "http:404:not found" "a POST is refused"
tap_is "$(raw send "GET $CH HTTP/1.1\r\nHost: a\r\n\r\nGET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")" \
	"statuses:200" "a request pipelined behind a valid one gets no answer"
tap_is "$(raw send "GET http://$WORLD_SRV4$CH HTTP/1.1\r\nHost: a\r\n\r\n")" "statuses:404" \
	"an absolute-form target is refused"
tap_unlike "$(raw send 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')" "200" "an HTTP/2 prior-knowledge preface is refused"
tap_unlike "$(world_exec "$P" ca curl -s -m 4 --http2-prior-knowledge "$V4$CH")" "keyauth" \
	"curl --http2-prior-knowledge gets no challenge"
tap_like "$(fetch "$P" ca "$V4$CH" -H "X-Pad: $(head -c 6000 /dev/zero | tr '\0' a)")" \
	"^http:4[0-9][0-9]:|^reset" "oversized headers are refused"
tap_like "$(raw slow "GET $CH HTTP/1.1\r\nHost: a\r\n\r\n")" "^closed after [4-8] s$" \
	"a client sending one byte a second is cut within the time bound"
ln -s /etc/passwd "$webroot/.well-known/acme-challenge/${TOKEN:0:42}A"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/${TOKEN:0:42}A")" "http:404:not found" \
	"a symlink out of the webroot is not followed"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the challenge still answers after the attacks"
tap_is "$(world_lines)" 0 "nothing from the world reached nginx"

# -- trusted sources keep the real web server
tap_is "$(fetch "$P" home "$V4/index.html")" "http:200:private page" "a trusted IPv4 source reaches nginx"
tap_is "$(fetch "$P" home "$V6/index.html")" "http:200:private page" "a trusted IPv6 source reaches nginx"
tap_is "$(grep -c "^$WORLD_HOME4 \"GET /index.html" "$ACCESS")" 1 "nginx logged the trusted request itself"

# -- SIGTERM, and the tokens file: when it exists, only the tokens it lists
responder_stop web
tap_like "$(tail -n1 "$dir/web.log")" "stopped on SIGTERM: [0-9]+ requests, [0-9]+ served" \
	"SIGTERM stops it, with a stop line"
mkdir -m 755 "$dir/tok"
responder tok --port "$PORT" --until $(($(date +%s) + 120)) --webroot "$webroot" --tokens "$dir/tok/tokens"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "no tokens file: any token with a file"
printf 'otherTokenotherTokenotherTokenotherToken123\n' >"$dir/tok/tokens"
chmod 644 "$dir/tok/tokens"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:404:not found" "a token the file does not list is refused"
printf 'otherTokenotherTokenotherTokenotherToken123\n%s\n' "$TOKEN" >"$dir/tok/tokens"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the file is read anew for each request"
responder_stop tok

# -- relay mode: the local nginx answers, through one exact request
before=$(local_lines)
responder relay --port "$PORT" --until $(($(date +%s) + 5)) --relay http://127.0.0.1:80
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "relay: the challenge answers over IPv4"
tap_is "$(fetch "$P" ca "$V6$CH")" "http:200:$TOKEN.keyauth" "relay: the challenge answers over IPv6"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/${TOKEN:0:42}B")" "http:404:not found" \
	"relay: a challenge nginx does not have is a 404"
raw send "GET $CH HTTP/1.1\r\nHost: a\r\n\r\nGET /index.html HTTP/1.1\r\nHost: a\r\n\r\n" >/dev/null
fetch "$P" ca "$V4/.well-known/acme-challenge/../index.html" >/dev/null
tap_is "$(($(local_lines) - before))" 4 \
	"relay: nginx saw only the valid challenge requests (3, and the first of the pipelined pair)"
tap_is "$(world_lines)" 0 "relay: nothing from the world reached nginx directly"

# -- relay to another backend: the client's Host goes along; only a 200 of at most 4 KiB is passed on
world_spawn "$P" srv backend python3 "$here/../lib/relay_backend.py" 8081 "$dir/backend-requests.log"
world_wait_for 5 "the relay backend" world_exec "$P" srv curl -s -o /dev/null http://127.0.0.1:8081/
responder relay2 --port 8403 --until $(($(date +%s) + 60)) --relay http://127.0.0.1:8081
raw8403() { world_exec "$P" srv python3 "$here/../lib/raw_http.py" 127.0.0.1 8403 "$@"; }
tap_like "$(world_exec "$P" srv curl -s -m 4 -H "Host: www.example.test" "http://127.0.0.1:8403$CH")" \
	"^host=www.example.test$" "relay: the client's Host header is passed on"
tap_is "$(world_exec "$P" srv curl -s -o /dev/null -w '%{http_code}' -m 4 \
	"http://127.0.0.1:8403/.well-known/acme-challenge/${TOKEN:0:40}301")" 404 \
	"relay: a redirect from the web server becomes a 404"
tap_is "$(world_exec "$P" srv curl -s -o /dev/null -w '%{http_code}' -m 4 \
	"http://127.0.0.1:8403/.well-known/acme-challenge/${TOKEN:0:40}BIG")" 404 \
	"relay: an answer larger than 4 KiB becomes a 404"
tap_is "$(raw8403 send "GET $CH HTTP/1.1\r\nHost: a b\r\n\r\n")" "statuses:404" \
	"relay: a Host header with a space is not passed on"
tap_is "$(grep -c . "$dir/backend-requests.log")" 4 \
	"relay: the backend saw only the three valid requests (and the readiness probe)"
tap_like "$(grep acme-challenge "$dir/backend-requests.log" | awk '{ print $1 }' | sort -u)" "^GET$" \
	"relay: the backend was only asked GET"
responder_stop relay2

# -- the deadline
world_wait_for 8 "the relay responder to stop" grep -q "stopped on" "$dir/relay.log"
tap_like "$(tail -n1 "$dir/relay.log")" "stopped on the deadline" "the responder stops by itself at --until"
tap_is "$(world_alive "$(responder_pid relay)" && echo alive || echo gone)" gone "and its process is gone"

# -- acmegate open --mode responder: the window installs the redirect and runs the responder
srvnft delete table inet acmegate
h=$(srvnft -a list chain inet filter input | awk '/ct original proto-dst 80/ { print $NF }')
srvnft delete rule inet filter input handle "$h"
state="$dir/state"
gate_conf "$P" ttl=60 "responder_webroot=$webroot" \
	"trusted_sources=198.51.100.0/24, 2001:db8:100::/48" >/dev/null
echo "${TOKEN:0:42}B.keyauth" >"$webroot/.well-known/acme-challenge/${TOKEN:0:42}B"
chmod 644 "$webroot/.well-known/acme-challenge/${TOKEN:0:42}B"
before=$(ruleset "$P")
out=$(gate "$P" open --lease r1 --mode responder 2>&1); rc=$?
tap_is "$rc" 0 "open --mode responder succeeds"
tap_like "$out" "http-01 \(responder mode\)" "open says the mode"
tap_like "$(srvnft list chain inet acmegate responder | tr '\n\t' '  ')" \
	"type nat hook prerouting priority dstnat - 1;.*saddr 198.51.100.0/24 return.*tcp dport 80 counter packets 0 bytes 0 redirect to :$PORT" \
	"the window's nat chain: trusted sources return, then the redirect"
tap_is "$(srvnft list table inet acmegate | grep -c 'chain ')" 2 \
	"no path gate chains in responder mode (only responder and tally)"
pid1=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
tap_is "$(ps -o user=,args= -p "${pid1:-0}" | awk '{ print $1, $3 }')" "nobody responder" \
	"the window started the responder, running as nobody"
tap_like "$(gate "$P" status)" "responder pid $pid1 on port $PORT until" "status names the running responder"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "window: the challenge answers over IPv4"
tap_is "$(fetch "$P" ca "$V6$CH")" "http:200:$TOKEN.keyauth" "window: the challenge answers over IPv6"
tap_is "$(fetch "$P" ca "$V4/index.html")" "http:404:not found" "window: another path is refused"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/%2e%2e/index.html")" "http:404:not found" \
	"window: percent-encoded dot segments are refused"
tap_is "$(fetch "$P" home "$V4/index.html")" "http:200:private page" "window: a trusted source reaches nginx"
tap_is "$(world_tcp_probe "$P" ca "$WORLD_SRV4" "$PORT")" timeout \
	"the responder's own port stays closed to the world"
tap_like "$(srvnft list chain inet filter input)" \
	"ct original proto-dst 80 ct state != invalid counter packets [1-9][0-9]* .*comment \"acmegate: http-01 until" \
	"the window's opener let the redirected connections in by their original port"
tap_is "$(world_lines)" 0 "window: nothing from the world reached nginx"

# -- a moved deadline: a new responder takes over without a gap, the old one goes
gate "$P" open --lease r1 --mode responder --ttl 120 >/dev/null 2>&1
pid2=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
tap_like "$pid2" "^[0-9]+$" "reopening records a responder"
tap_unlike "$pid2" "^$pid1$" "reopening with a later deadline starts a new responder"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the new responder answers"
world_wait_for 8 "the old responder to stop" bash -c "! kill -0 $pid1"
tap_is "$(kill -0 "$pid1" 2>/dev/null && echo alive || echo gone)" gone "the old responder stopped"

# -- close: the responder stops, the ruleset is what it was
out=$(gate "$P" close --lease r1 2>&1); rc=$?
tap_is "$rc" 0 "close succeeds"
tap_like "$out" "connections redirected to the responder" "close reports the redirected connections"
tap_is "$(ruleset "$P")" "$before" "after close the ruleset is byte-identical to before open"
world_wait_for 8 "the responder to stop" bash -c "! kill -0 $pid2"
tap_is "$(kill -0 "$pid2" 2>/dev/null && echo alive || echo gone)" gone "close stops the responder"
tap_is "$(fetch "$P" ca "$V4$CH")" timeout "after close the geoblock drops the CA again"

# -- token-exact: the responder serves only the tokens the leases named
gate "$P" open --lease t --mode responder --token "$TOKEN" >/dev/null 2>&1
tap_is "$(cat "$state/tokens" 2>/dev/null)" "$TOKEN" "a token-exact window lists its token"
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the named token answers"
tap_is "$(fetch "$P" ca "$V4/.well-known/acme-challenge/${TOKEN:0:42}B")" "http:404:not found" \
	"a token with a file but not named is refused"
pid3=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
gate "$P" close --lease t --token "$TOKEN" >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "closing the last token restores the ruleset"
world_wait_for 8 "the responder to stop" bash -c "! kill -0 ${pid3:-0}"
tap_is "$(kill -0 "${pid3:-0}" 2>/dev/null && echo alive || echo gone)" gone "and stops the responder"

# -- a killed responder comes back with the next open
gate "$P" open --lease k --mode responder >/dev/null 2>&1
pid5=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
kill -KILL "${pid5:-0}"
world_wait_for 4 "the responder to die" bash -c "! kill -0 ${pid5:-0}"
tap_is "$(fetch "$P" ca "$V4$CH")" refused "a killed responder: the world's requests are refused, not passed to nginx"
gate "$P" open --lease k --mode responder >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "the next open starts it again"

# -- our table deleted: without the redirect the openers would pass the world to nginx, so
# sweep closes the http-01 window and stops the responder
pid6=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
srvnft delete table inet acmegate
gate "$P" sweep >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V4/index.html")" timeout "sweep closes the window when the redirect is gone"
world_wait_for 8 "the responder to stop" bash -c "! kill -0 ${pid6:-0}"
tap_is "$(kill -0 "${pid6:-0}" 2>/dev/null && echo alive || echo gone)" gone "and stops the responder"
gate "$P" close --lease k >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "close afterwards leaves the ruleset as it was"

# -- relay (no responder_webroot): the local nginx answers through one exact request
gate_conf "$P" ttl=60 http01_mode=responder >/dev/null
n=$(local_lines)
gate "$P" open --lease rel >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V6$CH")" "http:200:$TOKEN.keyauth" "window relay: the challenge answers"
tap_is "$(($(local_lines) - n))" 1 "window relay: nginx saw the one relayed request"
gate "$P" close --lease rel >/dev/null 2>&1

# -- the deadline: kernel and responder both end the window without close
gate "$P" open --lease short --ttl 3 >/dev/null 2>&1
pid4=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "a 3 s window answers"
sleep 4
world_wait_for 4 "the responder to stop" bash -c "! kill -0 ${pid4:-0}"
tap_is "$(kill -0 "${pid4:-0}" 2>/dev/null && echo alive || echo gone)" gone \
	"at the deadline the responder has stopped by itself"
tap_is "$(fetch "$P" ca "$V4$CH")" timeout "and the kernel closed the window"
gate "$P" sweep >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "sweep restores the ruleset"
# -- a path-mode window joined by a responder lease: connections made to nginx before end
gate "$P" open --lease pathfirst --mode path >/dev/null 2>&1
world_exec "$P" ca python3 "$here/../lib/idle_conn.py" "$WORLD_SRV4" 3 >"$(world_dir "$P")/switch.out" &
idle=$!
sleep 1
gate "$P" open --lease resp >/dev/null 2>&1
wait "$idle"
tap_is "$(grep -c ' 200' "$(world_dir "$P")/switch.out")" 0 \
	"switching to the responder ends a connection made to nginx before ($(cat "$(world_dir "$P")/switch.out"))"

tap_is "$(fetch "$P" ca "$V4$CH")" "http:200:$TOKEN.keyauth" "after the switch the responder answers the challenge"

# -- a dead responder is reported by status
pid7=$(awk '{ print $1 }' "$state/responder.pid" 2>/dev/null)
kill -KILL "${pid7:-0}" 2>/dev/null
world_wait_for 4 "the responder to die" bash -c "! kill -0 ${pid7:-0}"
tap_like "$(gate "$P" status 2>&1)" "NOT RUNNING" "status says when the responder is dead"
gate "$P" close --all >/dev/null 2>&1
tap_like "$(tail -n 1 "$state/exposure.log")" '"redirected": [1-9]' "exposure.log counts the connections redirected to the responder"
tap_is "$(ruleset "$P")" "$before" "close --all leaves the ruleset as it was"
exit $((TAP_FAILED > 0))
