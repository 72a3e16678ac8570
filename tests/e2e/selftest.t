#!/bin/bash
# selftest.t: `acmegate check` and `acmegate run` against five real perspective agents
# (acmegate-agent) in RIR-labelled namespaces with 20-300 ms links, a geoblocked server
# with nginx and a knot primary, and a miniature DNS tree (root, test., site.test, a
# secondary for example.test) that the agents' resolvers walk from the root as a CA's do
# (tests/lib/mpworld.sh). Root only; nothing leaves the namespaces.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/mpworld.sh"
ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
AGENT_BIN=${AGENT_BIN:-$(dirname "$ACMEGATE_BIN")/acmegate-agent}
tap_require_root
P=st$$
P=${P:0:8}
trap 'mpw_down $P' EXIT
mpw_up "$P" 5 >/dev/null || tap_skip_all "cannot build the multi-perspective world"
mpw_agents_start "$P" "$AGENT_BIN" || { echo "Bail out! the agents did not start"; exit 1; }
mpw_nginx "$P" plain || { echo "Bail out! nginx did not start"; exit 1; }
WD=$(world_dir "$P")
CONF=$WD/acmegate.conf
{ printf '[gate]\nstate_dir = %s/state\nttl = 300\n' "$WD"
  printf '[check]\nwebroot = %s\ndomains = www.site.test\ntimeout = 40\n' "$MPW_WEBROOT"
  mpw_client_conf "$P"; } >"$CONF"
tap_plan 88

gate() { world_exec "$P" srv "$ACMEGATE_BIN" -c "$CONF" "$@"; }
# selftest ARGS...: runs `check --json`; the report in $WD/out.json, exit code in $rc.
selftest() {
	gate check --json "$@" >"$WD/out.json" 2>"$WD/err.txt"
	rc=$?
}
# js EXPR: a python expression over the report `r` (r["targets"][0] is the first domain).
js() {
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1])); t = r["targets"][0]; p = t["perspectives"]
def res(i): return p[i].get("result") or {}
print(eval(sys.argv[2]))' "$WD/out.json" "$1" 2>&1
}
classes() { js '" ".join(x["class"] for x in p)'; }
why() { tap_diag "exit $rc" "$(head -c 3000 "$WD/out.json")" "$(tail -5 "$WD/err.txt")"; }

# -- 1. no firewall: every perspective reaches the server
selftest
tap_is "$rc" 0 "no geoblock: the self-test passes" || why
tap_is "$(js 't["quorum"]["passed"]')" 5 "all five perspectives pass"
tap_is "$(js 'sorted(set(x["rir"] for x in p)) == ["AFRINIC","APNIC","ARIN","LACNIC","RIPE"]')" True \
	"each perspective reports its RIR"
tap_is "$(js 'all(len(res(i)["attempts"]) == 2 for i in range(5))')" True "IPv4 and IPv6 are both tried"
tap_is "$(ls -A "$MPW_WEBROOT/.well-known/acme-challenge" 2>/dev/null | wc -l)" 0 \
	"the probe file is removed afterwards"

# an agent that cannot be reached is named as such, not blamed on the CA's path
{ cat "$CONF"; printf '[perspective ghost]\nurl = https://%s:9\nkey_id = test\nsecret = %s\n' \
	"$(mpw_agent_addr4 1)" "$(mpw_secret "$P")"; } >"$WD/ghost.conf"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/ghost.conf" check 2>&1)
tap_like "$out" "1 perspective\(s\) could not be asked" "an unreachable agent: the report says it could not be asked"

# -- 2. geoblock, window closed: every perspective is dropped before this host
world_geoblock "$P" >/dev/null
mpw_geoblock_allow_ns2 "$P" >/dev/null
selftest
tap_is "$rc" 65 "geoblock, window closed: the self-test fails (exit 65)" || why
tap_is "$(classes)" "dropped dropped dropped dropped dropped" "every perspective: dropped"
out=$(gate check 2>&1)
tap_like "$out" "Timeout during connect \(likely firewall problem\)" "the report has the CA's wording"
tap_like "$out" "During secondary validation" "the report has the line a CA would print"
tap_like "$out" "no acmegate window is open for port 80" "the report says no window is open"

# -- 3. window open: pass
gate open --lease t >/dev/null 2>&1
selftest
tap_is "$rc" 0 "window open: the self-test passes" || why
tap_is "$(classes)" "ok ok ok ok ok" "every perspective: ok"

# -- 4. one region blocked upstream: cabf passes with one failure, all fails
mpw_block_rir "$P" RIPE
selftest
tap_is "$rc" 0 "RIPE blocked upstream: cabf passes" || why
tap_is "$(js '[x["name"] for x in p if not x["ok"]]')" "['a2-ripe']" "only the RIPE perspective fails"
tap_is "$(js '[x["class"] for x in p if not x["ok"]]')" "['dropped']" "... classified dropped"
tap_like "$(js 'p[1].get("reached_host", "")')" "packets to port 80 in during the check" \
	"... and the gate's counters show others got through"
selftest --quorum all
tap_is "$rc" 65 "RIPE blocked upstream: quorum all fails" || why

# -- 5. two regions blocked: fail
mpw_block_rir "$P" APNIC
selftest
tap_is "$rc" 65 "RIPE and APNIC blocked: cabf fails" || why
tap_like "$(js 't["quorum"]["why"]')" "3 of 5 passed" "the quorum says 3 of 5"
mpw_unblock "$P"

# -- 6. IPv6 blocked, IPv4 open: fail with the IPv6 reason
mpw_block_v6 "$P"
selftest
tap_is "$rc" 65 "IPv6 blocked: the self-test fails" || why
tap_is "$(js 'set(a["family"] for i in range(5) for a in res(i)["attempts"] if not a["ok"])')" "{'ipv6'}" \
	"only IPv6 attempts fail"
tap_like "$(js 'p[0]["detail"]')" "2001:db8:10::10" "the reason names the IPv6 address"
out=$(gate check 2>&1)
tap_like "$out" "fails over IPv6 but passes over IPv4" "the report warns about IPv6"
mpw_unblock "$P"

# -- 7. port 80 redirects to https, 443 closed: fail, classified on the hop
mpw_nginx "$P" https-redirect >/dev/null
selftest
tap_is "$rc" 65 "redirect to https with 443 closed: fails" || why
tap_is "$(js 'sorted(set(x["class"] for x in p))')" "['dropped']" "classified: the https hop is dropped"
tap_is "$(js 'res(0)["attempts"][0]["hops"][0]["status"]')" 301 "the first hop is the 301"
out=$(gate check 2>&1)
tap_like "$out" "redirects to a port that does not answer" "the report warns about the redirect"

# -- 8. wrong body
mpw_nginx "$P" wrongbody >/dev/null
selftest
tap_is "$rc" 65 "wrong body: fails" || why
tap_is "$(classes)" "wrong-body wrong-body wrong-body wrong-body wrong-body" "classified wrong-body"
mpw_nginx "$P" plain >/dev/null

# -- 9. a real challenge token (manual hook) and the hook environment
tok=Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0czE
mkdir -p "$MPW_WEBROOT/.well-known/acme-challenge"
echo "$tok.thumb" >"$MPW_WEBROOT/.well-known/acme-challenge/$tok"
chmod -R a+rX "$MPW_WEBROOT"
world_exec "$P" srv env CERTBOT_DOMAIN=www.site.test CERTBOT_TOKEN=$tok CERTBOT_VALIDATION=$tok.thumb \
	"$ACMEGATE_BIN" -c "$CONF" check --json >"$WD/out.json" 2>"$WD/err.txt"
rc=$?
tap_is "$rc" 0 "certbot manual-hook environment: its token is checked and passes" || why
world_exec "$P" srv env CERTBOT_DOMAIN=www.site.test CERTBOT_TOKEN=$tok CERTBOT_VALIDATION=$tok.other \
	"$ACMEGATE_BIN" -c "$CONF" check --json >"$WD/out.json" 2>"$WD/err.txt"
rc=$?
tap_is "$rc" 65 "... and a wrong expected key authorization fails" || why
rm -f "$MPW_WEBROOT/.well-known/acme-challenge/$tok"

# -- 10. DNS-01: knot on the geoblocked server, window dns, a lagging secondary
val=$(printf 'first' | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
mpw_txt_set "$P" "$val" >/dev/null
selftest --challenge dns-01 --domain example.test --value "$val"
tap_is "$rc" 65 "dns-01, window for 53 closed: fails" || why
tap_like "$(js 'p[0]["detail"]')" "192.0.2.10|2001:db8:10::10" "... naming the server's unreachable address"
gate open --lease d --challenge dns >/dev/null 2>&1
selftest --challenge dns-01 --domain example.test --value "$val"
tap_is "$rc" 0 "dns-01, window dns open: the TXT is seen by all" || why
tap_is "$(js 'all(s["ok"] for i in range(5) for s in res(i)["servers"])')" True "... on every authoritative server"
mpw_lag_secondary "$P" on >/dev/null
val2=$(printf 'second' | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
mpw_txt_set "$P" "$val2" >/dev/null
selftest --challenge dns-01 --domain example.test --value "$val2"
tap_is "$rc" 65 "dns-01 with a lagging secondary: fails" || why
tap_is "$(js 'sorted(set(s["name"].rstrip(".") for i in range(5) for s in res(i)["servers"] if not s["ok"]))')" \
	"['ns2.example.test']" "the lagging secondary is named"
out=$(gate check --challenge dns-01 --domain example.test --value "$val2" 2>&1)
tap_like "$out" "server ns2.example.test" "the text report names it too"
mpw_lag_secondary "$P" off >/dev/null
gate close --lease d >/dev/null 2>&1

# -- 11. acmegate run: the client runs only after a passing self-test; always closed after
gate close --lease t >/dev/null 2>&1
out=$(gate run --lease r1 -- sh -c 'echo client-ran; exit 3' 2>&1); rc=$?
tap_is "$rc" 3 "run: the client runs after a passing self-test and its exit code is kept" ||
	tap_diag "$out"
tap_like "$out" "client-ran" "... it ran"
tap_is "$(gate status 2>&1 | grep -c 'lease r1')" 0 "... and the lease is closed afterwards"
mpw_nginx "$P" wrongbody >/dev/null
out=$(gate run --lease r2 -- sh -c 'echo client-ran' 2>&1); rc=$?
tap_is "$rc" 65 "run: a failing self-test exits 65" || tap_diag "$out"
tap_unlike() { if [[ $1 =~ $2 ]]; then tap_not_ok "$3"; else tap_ok "$3"; fi; }
tap_unlike "$out" "client-ran" "... without running the client"
tap_is "$(our_rules_count=$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:'); echo "$our_rules_count")" 0 \
	"... and the window is closed again"
mpw_nginx "$P" plain >/dev/null
# not world_exec: a backgrounded shell function would get the signal instead of acmegate
ip netns exec "$(world_ns "$P" srv)" "$ACMEGATE_BIN" -c "$CONF" run --lease r3 -- sleep 30 >"$WD/run3.txt" 2>&1 &
rpid=$!
for _ in $(seq 100); do pgrep -f "^sleep 30" >/dev/null && break; sleep 0.2; done
kill -TERM "$rpid" 2>/dev/null
wait "$rpid"; rc=$?
tap_is "$rc" 143 "run: SIGTERM reaches the client; exit 128+15" || tap_diag "$(cat "$WD/run3.txt")"
tap_is "$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:')" 0 "... and the window is closed"

# -- 12. the certbot pre-hook: on_check_failure = close
mpw_nginx "$P" wrongbody >/dev/null
mkdir -p "$WD/bin"; ln -sf "$ACMEGATE_BIN" "$WD/bin/acmegate"
out=$(world_exec "$P" srv env PATH="$WD/bin:$PATH" ACMEGATE_CONFIG="$CONF" "$repo/hooks/certbot/pre" 2>&1); rc=$?
tap_is "$rc" 65 "pre-hook: a failing self-test fails the hook" || tap_diag "$out"
tap_like "$out" "on_check_failure = close" "... says it closes the window"
tap_is "$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:')" 0 "... and closed it"
mpw_nginx "$P" plain >/dev/null

# -- 14. agents that cannot be asked: inconclusive (exit 71), not "a CA would fail"
sed 's|^\(url = https://[^ ]*\):8443$|\1:9|' "$CONF" >"$WD/closed.conf"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/closed.conf" check 2>&1); rc=$?
tap_is "$rc" 71 "every agent on a closed port: check exits 71 (inconclusive)" || tap_diag "$out"
tap_like "$out" "self-test: INCONCLUSIVE: too few perspectives could be asked" "... and says it could not decide"
tap_unlike "$out" "a CA would most likely refuse" "... without blaming the CA's path"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/closed.conf" run --lease i1 -- sh -c 'echo client-ran' 2>&1); rc=$?
tap_is "$rc" 71 "run: an inconclusive self-test exits 71 (on_inconclusive = refuse)" || tap_diag "$out"
tap_unlike "$out" "client-ran|no CA validation attempt was spent" "... the client did not run, and no false claim"
tap_like "$out" "on_inconclusive = proceed" "... and it says how to go on anyway"
tap_is "$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:')" 0 "... and the window is closed"
sed 's|^\[check\]$|[check]\non_inconclusive = proceed|' "$WD/closed.conf" >"$WD/proceed.conf"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/proceed.conf" run --lease i2 -- sh -c 'echo client-ran' 2>&1); rc=$?
tap_is "$rc" 0 "run, on_inconclusive = proceed: the client runs" || tap_diag "$out"
tap_like "$out" "client-ran" "... it ran"
out=$(world_exec "$P" srv env PATH="$WD/bin:$PATH" ACMEGATE_CONFIG="$WD/closed.conf" "$repo/hooks/certbot/pre" 2>&1); rc=$?
tap_is "$rc" 71 "pre-hook: an inconclusive self-test fails the hook with 71" || tap_diag "$out"
tap_like "$out" "inconclusive.*closing lease 'certbot' \(on_check_failure = close\)" "... says so and closes"
out=$(world_exec "$P" srv env PATH="$WD/bin:$PATH" ACMEGATE_CONFIG="$WD/proceed.conf" "$repo/hooks/certbot/pre" 2>&1); rc=$?
tap_is "$rc" 0 "pre-hook, on_inconclusive = proceed: the window stays open" || tap_diag "$out"
gate close --lease certbot >/dev/null 2>&1

# -- 15. a token-exact window: a probe cannot pass it; check the challenge itself
tok2=QmFyZm9vLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0czI
echo "$tok.thumb" >"$MPW_WEBROOT/.well-known/acme-challenge/$tok"
chmod -R a+rX "$MPW_WEBROOT"
gate open --lease tx --token "$tok" >/dev/null 2>&1
out=$(gate check 2>&1); rc=$?
tap_is "$rc" 64 "token-exact window, no --token: a usage error (64), no probe" || tap_diag "$out"
tap_like "$out" "window is token-exact.*--token and --key-authorization" "... saying why and what to pass"
selftest --token "$tok" --key-authorization "$tok.thumb"
tap_is "$rc" 0 "token-exact window, its own token: passes" || why
out=$(gate check --token "$tok2" --key-authorization "$tok2.thumb" 2>&1); rc=$?
tap_is "$rc" 65 "token-exact window, a token it was not given: fails" || tap_diag "$out"
tap_like "$out" "reset by acmegate's path gate: the window is token-exact" "... and the reset is explained as token-exact"
gate close --lease tx >/dev/null 2>&1
rm -f "$MPW_WEBROOT/.well-known/acme-challenge/$tok"

# -- 16. responder mode with responder_webroot: the probe goes where the responder serves
mkdir -p -m 755 "$WD/rwww"
sed 's|^\[gate\]$|[gate]\nhttp01_mode = responder\nresponder_webroot = '"$WD"'/rwww|' "$CONF" >"$WD/resp.conf"
world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/resp.conf" open --lease rs >"$WD/rs.txt" 2>&1
world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/resp.conf" check --json >"$WD/out.json" 2>"$WD/err.txt"; rc=$?
tap_is "$rc" 0 "responder mode: the probe file goes to responder_webroot and passes" || why
tap_is "$(ls -A "$WD/rwww/.well-known/acme-challenge" 2>/dev/null | wc -l)" 0 "... and is removed afterwards"
world_exec "$P" srv "$ACMEGATE_BIN" -c "$WD/resp.conf" close --lease rs >/dev/null 2>&1

# -- 17. run: the client is looked up before anything opens; --ttl is run's
out=$(gate run --lease r6 -- no-such-acme-client-here 2>&1); rc=$?
tap_is "$rc" 127 "run: a client not in PATH exits 127" || tap_diag "$out"
tap_like "$out" "command not found.*nothing was opened" "... before opening"
printf '#!/bin/sh\n' >"$WD/notexec"; chmod 644 "$WD/notexec"
out=$(gate run --lease r6 -- "$WD/notexec" 2>&1); rc=$?
tap_is "$rc" 126 "run: a client that is not executable exits 126" || tap_diag "$out"
tap_is "$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:')" 0 "... and no window was opened"
out=$(gate run --ttl 99999 -- true 2>&1); rc=$?
tap_is "$rc" 64 "run --ttl 99999: exit 64" || tap_diag "$out"
tap_like "$out" "acmegate run: bad --ttl '99999'" "... in run's name"
tap_like "$out" "Try 'acmegate run --help'" "... and points to run's help"
out=$(world_exec "$P" srv env CERTBOT_DOMAIN=$'evil\nacmegate: forged' "$ACMEGATE_BIN" -c "$CONF" check 2>&1)
tap_is "$(printf '%s\n' "$out" | grep -c '^acmegate: forged')" 0 "a newline from the environment cannot forge a line" ||
	tap_diag "$out"
tap_like "$out" 'evil\\nacmegate: forged' "... it is shown escaped"

# -- 18. run: a client outliving --ttl is warned about; one ignoring SIGTERM is killed
out=$(gate run --no-check --ttl 2 --lease r7 -- sleep 4 2>&1); rc=$?
tap_like "$out" "still running at the window's deadline.*--ttl" "run: a client past --ttl: warned that the window closed" ||
	tap_diag "$out"
ip netns exec "$(world_ns "$P" srv)" "$ACMEGATE_BIN" -c "$CONF" run --no-check --lease r8 -- \
	sh -c 'trap "" TERM INT HUP; sleep 60' >"$WD/run8.txt" 2>&1 &
rpid=$!
for _ in $(seq 100); do shpid=$(pgrep -P "$rpid") && [ -n "$(pgrep -P "$shpid")" ] && break; sleep 0.1; done
sleeppid=$(pgrep -P "$shpid")
start=$(date +%s)
kill -TERM "$rpid" 2>/dev/null
wait "$rpid"; rc=$?
took=$(($(date +%s) - start))
[ -n "$sleeppid" ] && kill -KILL "$sleeppid" 2>/dev/null || tap_diag "the client's sleep (pid '$sleeppid') was not found"
tap_is "$rc" 143 "run: a client ignoring SIGTERM is killed after the grace; exit 128+15" || tap_diag "$(cat "$WD/run8.txt")"
tap_ok_if() { if eval "$1"; then tap_ok "$2"; else tap_not_ok "$2"; tap_diag "$3"; fi; }
tap_ok_if "[ $took -ge 9 ] && [ $took -le 20 ]" "... after about 10 s" "took $took s"
tap_like "$(cat "$WD/run8.txt")" "did not exit within 10 s of signal 15; killed it" "... and says so"
tap_is "$(world_exec "$P" srv nft list ruleset | grep -c 'comment "acmegate:')" 0 "... and the window is closed"

# -- 13. the real thing: certbot through `acmegate run`, self-test first, then Pebble validates
if world_pebble "$P" >/dev/null 2>&1 && world_dns "$P" www.site.test 46; then
	ruleset_before=$(world_exec "$P" srv nft list ruleset)
	since=$(wc -l <"$WD/mpw-nginx-access.log")
	CB=$WD/certbot
	world_exec "$P" srv env -u http_proxy -u https_proxy -u all_proxy PATH="$WD/bin:$PATH" \
		REQUESTS_CA_BUNDLE="$WD/tls-ca.pem" timeout 120 \
		"$ACMEGATE_BIN" -c "$CONF" run --lease certbot -- certbot certonly --webroot -w "$MPW_WEBROOT" \
		-d www.site.test --server "https://$WORLD_CA4:$WORLD_ACME_PORT/dir" \
		--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--register-unsafely-without-email --agree-tos --non-interactive >"$WD/certbot.txt" 2>&1
	rc=$?
	tap_is "$rc" 0 "run -- certbot: the self-test passes, then certbot gets its certificate" ||
		tap_diag "$(tail -20 "$WD/certbot.txt")" "$(tail -5 "$WD/pebble.log")"
	tap_like "$(cat "$WD/certbot.txt")" "http-01 www.site.test: PASS \\(5 of 5 passed" "... the self-test ran before certbot"
	tap_is "$(openssl x509 -in "$CB/config/live/www.site.test/fullchain.pem" -noout -issuer 2>&1 |
		grep -c 'Pebble Intermediate')" 1 "... issued by Pebble"
	tap_like "$(tail -n "+$((since + 1))" "$WD/mpw-nginx-access.log" | grep acme-challenge | awk '{ print $1 }' | sort -u | paste -sd ' ')" \
		"$WORLD_CA6|$WORLD_CA4" "... Pebble fetched the challenge through the window"
	tap_is "$(world_exec "$P" srv nft list ruleset)" "$ruleset_before" "... and the ruleset is as before"
else
	for _ in 1 2 3 4 5; do tap_not_ok "Pebble did not start in the multi-perspective world"; done
fi
