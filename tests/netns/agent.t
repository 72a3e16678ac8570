#!/bin/bash
# agent.t: acmegate-agent in the CA's namespace, asked from home (root): signed replies, every
# refusal of docs/agent-protocol.md (401 forged, stale, replayed, unknown key; 413; 403 port and
# special-use targets; 429; 400 for a query, a %-escape or a doubled signed header), a real
# http-01 check that fails, silent connections from one address that must not starve others,
# privilege drop, SIGTERM, and config errors (exit 78).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
# next to ACMEGATE_BIN when tests/run names a build directory (the sanitizer build)
if [ -n "${ACMEGATE_BIN:-}" ]; then AGENT_BIN=${AGENT_BIN:-$(dirname "$ACMEGATE_BIN")/acmegate-agent}; fi
AGENT_BIN=${AGENT_BIN:-$(cd "$here/../.." && pwd)/build/acmegate-agent}
REQ="$here/../lib/agent_req.py"
TOKEN=Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0czE

tap_require_root
[ -x "$AGENT_BIN" ] || tap_skip_all "no $AGENT_BIN (run make)"
{ command -v openssl && command -v python3; } >/dev/null || tap_skip_all "needs openssl and python3"
P=agt$$
P=${P:0:10}
trap 'world_down $P' EXIT
world_up "$P" >/dev/null || tap_skip_all "cannot build the test world"
dir=$(world_dir "$P")
URL4="https://$WORLD_CA4:8443"
URL6="https://[$WORLD_CA6]:8443"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=agent.test" -addext "subjectAltName=IP:$WORLD_CA4,IP:$WORLD_CA6" \
	-keyout "$dir/agent.key" -out "$dir/agent.crt" 2>/dev/null || tap_skip_all "openssl failed"
declare -A SECRET
for k in info chk rl slow conn tgt; do SECRET[$k]=$(openssl rand -hex 32); done
# world_dir is 0700: the agent reads everything as root, then drops to nobody
conf="$dir/agent.conf"
cat >"$conf" <<EOF
; acmegate-agent for agent.t
[agent]
perspective = test-ca
rir = RIPE
listen = [::]:8443
certificate = $dir/agent.crt
private_key = $dir/agent.key   ; mode 600 from openssl
allow_destination = 192.0.2.0/24
allow_destination = 2001:db8::/32
max_concurrent = 1
rate_per_minute = 5
dial_timeout_ms = 3500

[client info]
secret = ${SECRET[info]}
[client chk]
secret = ${SECRET[chk]}
[client rl]
secret = ${SECRET[rl]}
[client slow]
secret = ${SECRET[slow]}
[client conn]
secret = ${SECRET[conn]}
[client tgt]
secret = ${SECRET[tgt]}
EOF

# ask KEY [agent_req.py options]: "STATUS SIGNATURE" and the body, asked from home.
ask() {
	local key=$1
	shift
	world_exec "$P" home python3 "$REQ" --url "$URL4" --ca "$dir/agent.crt" --key "$key" \
		--secret "${SECRET[$key]:-$(printf '%064d' 0)}" "$@" 2>&1
}
status() { ask "$@" | head -n 1; }
check() {
	local key=$1
	shift
	ask "$key" --method POST --path /v1/check --json "$@"
}
# http01 NAME [EXTRA]: an http-01 request body for NAME.
http01() { printf '{"type":"http-01","name":"%s","token":"%s","key_authorization":"%s.k"%s}' "$1" "$TOKEN" "$TOKEN" "${2:-}"; }

tap_plan 41

world_spawn "$P" ca agent "$AGENT_BIN" -c "$conf" --foreground
pid=$(awk '$3 == "agent" { p = $1 } END { print p }' "$dir/pids")
world_wait_for 5 "the agent's listening line" grep -q "listening on" "$dir/agent.log"
tap_is "$?" 0 "the agent starts and listens" || world_tail "$dir/agent.log"
tap_like "$(grep '^Uid:' "/proc/$pid/status")" "^Uid:\s+65534\s+65534\s+65534\s+65534$" \
	"started as root, every uid of the running agent is nobody's"
tap_like "$(grep '^NoNewPrivs:' "/proc/$pid/status")" "1$" "no_new_privs is set"

out=$(ask info)
tap_is "$(head -n 1 <<<"$out")" "200 signed" "GET /v1/info: 200 with a valid reply signature"
tap_like "$out" '"perspective":"test-ca","rir":"RIPE","version":' "info names perspective and RIR"
tap_is "$(world_exec "$P" home python3 "$REQ" --url "$URL6" --ca "$dir/agent.crt" --key info \
	--secret "${SECRET[info]}" 2>&1 | head -n 1)" "200 signed" "the agent answers over IPv6 too"

tap_is "$(status info --forge)" "401 unsigned" "a forged signature: 401"
tap_is "$(status info --time-offset -120)" "401 unsigned" "a timestamp 120 s old: 401"
tap_is "$(status info --replay)" "401 unsigned" "a replayed nonce: 401"
tap_is "$(status ghost)" "401 unsigned" "an unknown key: 401"
tap_is "$(status info --method POST --path /v1/check --oversize 5000)" "413 unsigned" \
	"a 5000-byte body: 413"
tap_is "$(status info --method POST --path /v1/check --oversize 5000 --chunked)" "413 unsigned" \
	"a 5000-byte chunked body (no Content-Length): 413"
tap_is "$(status info --path /v2/info)" "404 signed" "an unknown path: 404, signed"
tap_is "$(status info --method POST --path /v1/check --json '{"type":')" "400 signed" "malformed JSON: 400"

out=$(check chk "$(http01 "$WORLD_SRV4" ',"port":22')")
tap_is "$(head -n 1 <<<"$out")" "403 signed" "target port 22: 403"
tap_like "$out" "only 80" "the refusal names the allowed port"
tap_is "$(check chk "$(http01 127.0.0.1)" | head -n 1)" "403 signed" "target 127.0.0.1: 403"
tap_is "$(check chk "$(http01 10.0.0.1)" | head -n 1)" "403 signed" \
	"target 10.0.0.1 (an IP literal outside allow_destination): 403"
out=$(check chk "$(http01 "$WORLD_SRV4")")
tap_is "$(head -n 1 <<<"$out")" "200 signed" "http-01 against $WORLD_SRV4 (nothing on port 80): 200"
tap_like "$out" '"perspective":"test-ca".*"ok":false.*"class":"(refused|dropped)"' \
	"the result says ok false, class refused or dropped"
tap_is "$(status chk --method PUT --path /v1/check)" "405 signed" "PUT /v1/check: 405"

# max_concurrent = 1: a check that waits for its dial timeout (3.5 s, nobody at .99) holds the slot
check slow "$(http01 192.0.2.99)" >"$dir/slow.out" &
slow=$!
sleep 0.7
tap_is "$(check slow "$(http01 "$WORLD_SRV4")" | head -n 1)" "503 signed" \
	"a second check while max_concurrent = 1 is busy: 503"
wait "$slow"
tap_like "$(cat "$dir/slow.out")" '^200 signed' "the first check still ends with 200"

got=""
for _ in 1 2 3 4 5 6; do got="$got $(status rl | cut -d' ' -f1)"; done
tap_is "$got" " 200 200 200 200 200 429" "rate_per_minute = 5: the 6th request is 429"
tap_like "$(cat "$dir/agent.log")" "$WORLD_HOME4 key=chk POST /v1/check 200 type=http-01 name=$WORLD_SRV4 class=(refused|dropped) [0-9]+ ms" \
	"one log line per request: client, key, method, path, status, check, class, time"

# the signature covers the decoded path alone: a target that decodes to it must not pass
tap_is "$(status tgt --target '/v1/info?x=1')" "400 unsigned" "a query behind the signed path: 400"
tap_is "$(status tgt --target '/v1/info?')" "400 unsigned" "an empty query: 400"
tap_is "$(status tgt --target '/v1/%69nfo')" "400 unsigned" "a %-escape in the path: 400"
tap_is "$(status tgt --header "Acmegate-Key: chk")" "400 unsigned" "Acmegate-Key twice: 400"
tap_is "$(status tgt --header "acmegate-signature: $(printf '%064d' 0)")" "400 unsigned" \
	"Acmegate-Signature twice (another case): 400"
tap_like "$(cat "$dir/agent.log")" "key=tgt GET /v1/info\?x=1 400 .*\(the request target must be a bare path" \
	"the log line shows the raw target and why it was refused"
tap_is "$(status tgt)" "200 signed" "the same key with a bare target: 200"

# 60 silent connections (no TLS hello) from srv: srv keeps max_connections_per_address (8 by
# default), the rest are closed at once, and the 8 go after the 5 s idle timeout
world_exec "$P" srv python3 "$here/../lib/hold_conn.py" "$WORLD_CA4" 8443 60 1.5 8 >"$dir/hold.out" &
hold=$!
sleep 1
t0=$(date +%s%N)
tap_is "$(status conn --timeout 3)" "200 signed" "60 silent connections from srv: home's request still gets 200"
tap_is "$(( ($(date +%s%N) - t0) / 1000000 < 2000 ))" 1 "... within 2 s"
wait "$hold"
tap_is "$(cat "$dir/hold.out")" "1.5:8 8:0" "srv keeps 8 connections, for at most the idle timeout"
tap_is "$(world_exec "$P" srv python3 "$here/../lib/hold_conn.py" "$WORLD_CA4" 8443 60 1)" "1:8" \
	"then srv's places are free again"

# a check longer than the idle timeout is not cut: the web server thinks for 6 s (within the
# 7 s a fetch may take with dial_timeout_ms = 3500)
world_spawn "$P" srv slow-http python3 "$here/../lib/slow_http.py" "$WORLD_SRV4" 80 6
port80_open() { [ "$(world_tcp_probe "$P" home "$WORLD_SRV4" 80)" = open ]; }
world_wait_for 5 "the slow web server" port80_open
t0=$(date +%s)
out=$(check conn "$(http01 "$WORLD_SRV4")")
tap_like "$(head -n 1 <<<"$out") $(( $(date +%s) - t0 ))" "^200 signed ([6-9]|1[0-9])$" \
	"a 6 s check (longer than the 5 s idle timeout) still gets its signed answer"

kill -TERM "$pid"
world_wait_for 5 "the agent to exit" bash -c "! kill -0 $pid"
tap_like "$?:$(tail -n 1 "$dir/agent.log")" "^0:.*stopping on SIGTERM" "SIGTERM stops it cleanly"

sed 's/^rir = RIPE/rir = XX/' "$conf" >"$dir/bad.conf"
out=$("$AGENT_BIN" -c "$dir/bad.conf" --foreground 2>&1)
tap_like "$?:$out" "^78:.*bad.conf:4: bad value 'XX' for key 'rir'" "a bad value: exit 78, naming file:line and key"
sed 's/^max_concurrent = 1/&\nmax_connections = 8\nmax_connections_per_address = 8/' "$conf" >"$dir/bad.conf"
out=$("$AGENT_BIN" --check-config -c "$dir/bad.conf" 2>&1)
tap_like "$?:$out" "^78:.*max_connections_per_address \(8\) must be below max_connections \(8\)" \
	"max_connections_per_address not below max_connections: exit 78"
out=$("$AGENT_BIN" --check-config -c "$dir/none.conf" 2>&1)
tap_like "$?:$out" "^78:.*none.conf" "a missing config: exit 78"
