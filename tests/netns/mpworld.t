#!/bin/bash
# mpworld.t: the multi-perspective world (tests/lib/mpworld.sh) itself (root): eight agents
# behind their delay lines, a knot DNS tree resolved iteratively from every agent, the
# example.test primary on srv and its secondary (in sync, or lagging on demand), regions
# and IPv6 blocked in the router, nginx's modes, and the agents' daemons with pinned TLS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/mpworld.sh"
tap_require_root
for t in knotd knotc kdig nginx openssl curl python3; do
	command -v "$t" >/dev/null || tap_skip_all "needs $t"
done
AGENT_BIN=${AGENT_BIN:-$here/../../build/acmegate-agent}
P=mpt$$
P=${P:0:10}
trap 'mpw_down $P' EXIT
N=8
mpw_up "$P" "$N" >/dev/null || tap_skip_all "cannot build the multi-perspective world"
tap_plan 37

tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $*"; }

# on_agents CMD...: runs "CMD AGENT_NUMBER" for every agent in parallel; prints
# "aI:OUTPUT" lines in agent order.
on_agents() {
	local i out
	out=$(for i in $(mpw_agents "$P"); do (echo "a$i:$("$@" "$i" | paste -sd ,)") & done; wait)
	printf '%s\n' "$out" | sort -t: -k1.2n | paste -sd ' '
}
every() { local i s=""; for i in $(mpw_agents "$P"); do s="$s a$i:$1"; done; echo "${s# }"; }

# -- DNS: a referral from the root, and iterative resolution, from every agent
referral() {
	mpw_kdig "$P" "a$1" "@$MPW_ROOT4" +noall +authority +additional +nottl +noclass www.site.test A |
		awk '$2 == "NS" || $2 == "A" { print $2 "=" $3 }' | sort | paste -sd ' '
}
tap_is "$(on_agents referral)" "$(every "A=$MPW_TLD4 NS=a.tld.test.")" \
	"every agent gets the root's referral to test. with glue"
res() { mpw_resolve "$P" "a$1" www.site.test "$2"; }
res4() { res "$1" A; }
tap_is "$(on_agents res4)" "$(every "$WORLD_SRV4")" "every agent resolves www.site.test A from the root"
tap_is "$(res 5 AAAA)" "$WORLD_SRV6" "www.site.test AAAA resolves to srv"
tap_is "$(mpw_resolve "$P" a2 v4only.site.test A)/$(mpw_resolve "$P" a2 v4only.site.test AAAA)" \
	"$WORLD_SRV4/" "v4only.site.test has an A record only"
tap_like "$(mpw_kdig "$P" a1 "@$MPW_ROOT6" www.site.test A)" '^test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+NS' \
	"the root answers over IPv6 too"
tap_is "$(mpw_kdig "$P" a3 "@$MPW_TLD4" +noall +authority +nottl +noclass example.test NS | awk '{ print $3 }' | sort | paste -sd ' ')" \
	"ns1.example.test. ns2.example.test." "test. delegates example.test to ns1 and ns2"
tap_is "$(mpw_resolve "$P" a4 www.example.test AAAA)" "$WORLD_SRV6" \
	"www.example.test resolves iteratively (through ns1 on srv)"
tap_like "$(mpw_kdig "$P" a4 "@$MPW_NS26" www.example.test A)" "Flags: qr aa;.*ANSWER: 1;" \
	"ns2 answers authoritatively over IPv6"
tap_is "$(cat "$(mpw_root_hints "$P")" | awk '{ print $4 }' | paste -sd ' ')" \
	"a.root.test. $MPW_ROOT4 $MPW_ROOT6" "the root hints name a.root.test with both addresses"
tap_is "$(stat -c %a "$(mpw_root_hints "$P")")" 644 "the root hints are world-readable"

# -- the dns-01 record on the primary, the secondary in sync or lagging
mpw_txt_set "$P" first-value
tap_is "$?" 0 "mpw_txt_set succeeds"
tap_is "$(mpw_txt_now "$P" "$WORLD_SRV4")/$(mpw_txt_now "$P" "$WORLD_SRV6")" "first-value/first-value" \
	"ns1 (srv) serves the TXT on both families"
tap_is "$(mpw_txt_now "$P" "$MPW_NS24")" first-value "ns2 has it too after mpw_txt_set"
txt_from() { mpw_kdig "$P" "a$1" "@$2" +short _acme-challenge.example.test TXT | tr -d '"'; }
tap_is "$(txt_from 7 "$MPW_NS26")" first-value "an agent reads it from ns2 over IPv6"
mpw_lag_secondary "$P" on
mpw_txt_set "$P" second-value
tap_is "$(mpw_txt_now "$P" "$WORLD_SRV4")" second-value "while ns2 lags, ns1 has the new value"
sleep 1.5
tap_is "$(mpw_txt_now "$P" "$MPW_NS24")" first-value "and ns2 keeps the old value"
mpw_lag_secondary "$P" off
tap_is "$(mpw_txt_now "$P" "$MPW_NS24")" second-value "mpw_lag_secondary off: ns2 catches up"
mpw_site_caa "$P" pebble.test
tap_is "$(mpw_resolve "$P" a6 site.test CAA)" '0 issue "pebble.test"' "mpw_site_caa sets site.test's CAA"

# -- delay lines: the agent's round trip is its configured delay
rtt() {
	world_exec "$P" "a$1" kdig +norec +time=2 "@$MPW_ROOT4" . SOA |
		awk '/^;; From/ { print int($(NF-1)) }'
}
r1=$(rtt 1)
r7=$(rtt 7)
tap_like "$r1" '^(1[89]|[2-5][0-9])$' "a1 (20 ms) answers in about 20 ms (got $r1 ms)"
tap_like "$r7" '^(29[89]|3[0-4][0-9])$' "a7 (300 ms) answers in about 300 ms (got $r7 ms)"

# -- nginx modes, seen from an agent
CH=/.well-known/acme-challenge/tok1
echo tok1.keyauth >"$MPW_WEBROOT$CH"
get() { world_exec "$P" "a$1" curl -s -m 3 -w ' %{http_code}' "$2" | tr '\n' ' ' | tr -s ' '; }
mpw_nginx "$P" plain
tap_is "$(get 1 "http://$WORLD_SRV4$CH")|$(get 1 "http://[$WORLD_SRV6]$CH")" \
	"tok1.keyauth 200|tok1.keyauth 200" "plain serves the webroot on both families"
mpw_nginx "$P" wrongbody
tap_is "$(get 2 "http://[$WORLD_SRV6]$CH")" "mpworld-wrong-body 200" "wrongbody serves a wrong body"
mpw_nginx "$P" https-redirect
tap_is "$(world_exec "$P" a3 curl -s -o /dev/null -m 3 -w '%{http_code} %{redirect_url}' "http://$WORLD_SRV4$CH")" \
	"301 https://$WORLD_SRV4$CH" "https-redirect answers 301 to https"
tap_is "$(world_tcp_probe "$P" a3 "$WORLD_SRV4" 443)" refused "and nothing listens on 443"
mpw_nginx "$P" plain

# -- regions and IPv6 blocked upstream
tcp80() { echo "$(world_tcp_probe "$P" "a$1" "$WORLD_SRV4" 80)/$(world_tcp_probe "$P" "a$1" "$WORLD_SRV6" 80)"; }
tap_is "$(on_agents tcp80)" "$(every open/open)" "every agent reaches srv:80 on both families"
mpw_block_rir "$P" RIPE
want=$(for i in $(mpw_agents "$P"); do
	[ "$(mpw_rir "$P" "$i")" = RIPE ] && echo "a$i:timeout/timeout" || echo "a$i:open/open"; done | paste -sd ' ')
tap_is "$(on_agents tcp80)" "$want" "mpw_block_rir RIPE blocks a2 and a6 only, both families"
tap_is "$(world_tcp_probe "$P" home "$WORLD_SRV4" 80)" open "home is not affected"
mpw_block_rir "$P" APNIC
tap_like "$(on_agents tcp80)" '^a1:open/open a2:timeout/timeout a3:timeout/timeout a4:open/open a5:open/open a6:timeout/timeout a7:open/open a8:timeout/timeout$' \
	"a second region adds to the first"
mpw_unblock "$P"
tap_is "$(on_agents tcp80)" "$(every open/open)" "mpw_unblock lets every agent through again"
mpw_block_v6 "$P"
tap_is "$(on_agents tcp80)" "$(every open/timeout)" "mpw_block_v6 drops IPv6 only"
mpw_unblock "$P"
mpw_unblock "$P"
tap_is "$?" 0 "mpw_unblock is idempotent"

# -- the agents' daemons, pinned TLS
if "$AGENT_BIN" --help >/dev/null 2>&1; then
	mpw_agents_start "$P" "$AGENT_BIN" >/dev/null 2>&1
	tap_is "$?" 0 "mpw_agents_start brings all $N agents up"
	tls() {
		world_exec "$P" srv curl -s -o /dev/null -m 5 -w '%{http_code}' \
			--cacert "$(mpw_agent_dir "$P" "$1")/cert.pem" "https://$(mpw_agent_addr4 "$1"):$MPW_AGENT_PORT/" |
			sed 's/^000$/no-tls/; s/^[1-5][0-9][0-9]$/tls/'
	}
	tap_is "$(on_agents tls)" "$(every tls)" "srv completes a verified TLS handshake with every agent"
	tap_is "$(world_exec "$P" srv curl -s -o /dev/null -m 5 -w '%{http_code}' \
		--cacert "$(mpw_agent_dir "$P" 1)/cert.pem" "https://[$(mpw_agent_addr6 1)]:$MPW_AGENT_PORT/" |
		sed 's/^[1-5][0-9][0-9]$/tls/')" tls "and with a1 over IPv6"
else
	tap_skip "TODO: $AGENT_BIN is not built yet (mpw_agents_start)"
	tap_skip "TODO: $AGENT_BIN is not built yet (TLS to every agent)"
	tap_skip "TODO: $AGENT_BIN is not built yet (TLS over IPv6)"
fi
conf=$(mpw_client_conf "$P")
tap_is "$(printf '%s\n' "$conf" | grep -c '^\[perspective a[1-8]-[a-z]*\]$')/$(printf '%s\n' "$conf" | grep -c "^ca_file = /")" \
	"$N/$N" "mpw_client_conf prints one section per agent"
tap_like "$conf" '\[perspective a2-ripe\]
url = https://198\.18\.2\.2:8443
key_id = test
secret = [0-9a-f]{64}' "a section names the agent's URL and the shared secret"

# -- mpw_down leaves nothing behind
mpw_down "$P"
tap_is "$(ip netns list | grep -c "^$P-")/$(ls -d "$(world_dir "$P")" 2>/dev/null | wc -l)" "0/0" \
	"mpw_down deletes every namespace and the world dir"
exit $((TAP_FAILED > 0))
