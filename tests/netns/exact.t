#!/bin/bash
# exact.t: token-exact windows and the exposure log, with real nftables and nginx in private
# namespaces (root). `open --token` passes only the challenges the leases named; a lease
# without tokens widens the gate to any token again; `close --token` ends a lease with its
# last token; every closed window leaves one line in exposure.log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
. "$here/../lib/gate.sh"
gate_world exact
world_geoblock "$P"
webroot=$(gate_webroot "$P")
TOKEN_B=tokXRs0n1itYwXUMSpdKAxm8RTOj5hF9Dx_1EDB_RWA
TOKEN_C=ofUInlxQ0FjAwVlaG87MkNxwq4xRdIwdYmSHmFeN98M
for t in "$TOKEN_B" "$TOKEN_C"; do echo "$t.keyauth" >"$webroot/.well-known/acme-challenge/$t"; done
world_nginx "$P" "$webroot" || tap_skip_all "nginx did not start"
gate_conf "$P" ttl=60 >/dev/null
state="$(world_dir "$P")/state"
tap_plan 34

CH=/.well-known/acme-challenge
V4="http://$WORLD_SRV4"
V6="http://[$WORLD_SRV6]"
A=$TOKEN B=$TOKEN_B C=$TOKEN_C
before=$(ruleset "$P")
passes() { [ "$(fetch "$P" ca "$1$CH/$2")" = "http:200:$2.keyauth" ]; }

out=$(gate "$P" open --lease m --token "$A" 2>&1); rc=$?
tap_is "$rc" 0 "open --token succeeds"
tap_like "$out" "token-exact" "open says the window is token-exact"
tap_is "$(passes "$V4" "$A" && echo y)" y "the named token passes over IPv4"
tap_is "$(passes "$V6" "$A" && echo y)" y "the named token passes over IPv6"
tap_is "$(fetch "$P" ca "$V4$CH/$B")" reset "another well-formed token is reset"
tap_is "$(fetch "$P" ca "$V4/index.html")" reset "another path is reset"

gate "$P" open --lease m --token "$B" >/dev/null 2>&1
tap_is "$(passes "$V4" "$A" && passes "$V4" "$B" && echo y)" y "a second token on the lease: both pass"
tap_is "$(fetch "$P" ca "$V4$CH/$C")" reset "a third, not named, is still reset"
tap_is "$(stat -c %a "$state/tokens") $(sort "$state/tokens" | tr '\n' ' ')" "644 $(printf '%s\n' "$A" "$B" | sort | tr '\n' ' ')" \
	"state_dir/tokens lists the window's tokens, readable by the responder"

gate "$P" open --lease other --token "$C" >/dev/null 2>&1
tap_is "$(passes "$V6" "$C" && passes "$V6" "$A" && echo y)" y "tokens of two leases both pass"
gate "$P" close --lease other --token "$C" >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V4$CH/$C")" reset "close --token takes that token away"

gate "$P" open --lease plain >/dev/null 2>&1
tap_is "$(passes "$V4" "$C" && echo y)" y "a lease without tokens widens the gate to any token"
tap_is "$(fetch "$P" ca "$V4/index.html")" reset "... but still to challenge requests only"
gate "$P" close --lease plain >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$V4$CH/$C")" reset "closing it makes the gate token-exact again"

out=$(gate "$P" close --lease m --token "$A" 2>&1)
tap_like "$out" "1 left" "close --token with tokens left keeps the lease"
tap_is "$(passes "$V4" "$B" && echo y)" y "the remaining token still passes"
tap_is "$(fetch "$P" ca "$V4$CH/$A")" reset "the removed token is reset"

out=$(gate "$P" close --lease m --token "$B" 2>&1); rc=$?
tap_is "$rc" 0 "close of the last token succeeds"
tap_like "$out" "window closed" "the last token closes the lease and the window"
tap_is "$(ruleset "$P")" "$before" "the ruleset is identical to before"
tap_is "$(fetch "$P" ca "$V4$CH/$B")" timeout "the geoblock drops the CA again"
tap_is "$(ls "$state/tokens" 2>&1 >/dev/null | grep -c 'No such file')" 1 "the tokens file is gone with the window"

last=$(tail -n 1 "$state/exposure.log" 2>/dev/null)
tap_is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(not (d["open_ms"] > 0 and d["closed"] - d["opened"] == d["open_ms"] and d["connections"] >= 12))' "$last" && echo y)" y \
	"exposure.log: open time and the connections that came in ($last)"

out=$(gate "$P" open --lease m --token 'short' 2>&1); rc=$?
tap_is "$rc" 64 "a token of the wrong length is a usage error"
tap_like "$out" "43 base64url" "... and the message says what a token is"
out=$(gate "$P" open --lease m --token 'Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0c/../' 2>&1); rc=$?
tap_is "$([ "$rc" = 64 ] && [ "$(ruleset "$P")" = "$before" ] && echo y)" y \
	"a token with other characters is refused and nothing opens"

# -- a port-mode lease widens the window: said, not silent
gate "$P" open --lease m --token "$A" >/dev/null 2>&1
out=$(gate "$P" open --lease p --mode port 2>&1)
tap_like "$out" "tokens are not enforced" "a port-mode lease next to a token-exact one is a warning"
gate "$P" close --all >/dev/null 2>&1

# -- the state file lost during a window: close --all still cleans up everything
gate "$P" open --lease m --token "$A" >/dev/null 2>&1
rm -f "$state/state"
out=$(gate "$P" close --all 2>&1); rc=$?
tap_is "$rc" 0 "close --all without a state file succeeds" || tap_diag "$out"
tap_is "$(ruleset "$P")" "$before" "... and leaves the ruleset as before (openers and our table gone)"

# -- a window the kernel closed at its deadline counts as open until then, not until the sweep
gate "$P" open --lease short --ttl 2 >/dev/null 2>&1
sleep 4
gate "$P" sweep >/dev/null 2>&1
last=$(tail -n 1 "$state/exposure.log" 2>/dev/null)
tap_is "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["open_ms"] <= 2500)' "$last")" True \
	"exposure.log: a 2 s window swept 4 s later was open at most 2.5 s ($last)"

# -- run --mode reaches open: port mode builds no path gate; a bad mode is a usage error
out=$(gate "$P" run --no-check --mode port --lease rp -- nft list table inet acmegate 2>&1)
tap_is "$(grep -c 'chain gate' <<<"$out") $(grep -c 'chain tally' <<<"$out")" "0 1" \
	"run --mode port: the window the client sees has no path gate"
gate "$P" run --no-check --mode bogus -- true >/dev/null 2>&1; rc=$?
tap_is "$rc" 64 "run --mode bogus is a usage error"

# -- close with nothing open says so, not "window closed after 0.0 s"
tap_like "$(gate "$P" close --lease nope 2>&1)" "no window was open" "close with no window open says so"
tap_is "$(ruleset "$P")" "$before" "... and the ruleset is as before"
