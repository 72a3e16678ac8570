#!/bin/bash
# robust.t: the gate under failure (root, private namespaces): a hook killed between open and
# close, 20 concurrent leases, a flushed ruleset, nothing to open, no privilege, bad input,
# iptables-legacy tables. Each leaves the firewall no more open than before.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/world.sh"
. "$here/../lib/gate.sh"
gate_world rob
world_geoblock "$P"
webroot=$(gate_webroot "$P")
world_nginx "$P" "$webroot" || tap_skip_all "nginx did not start"
conf=$(gate_conf "$P" ttl=60)
tap_plan 41
CH="http://$WORLD_SRV4/.well-known/acme-challenge/$TOKEN"
before=$(ruleset "$P")

# -- a hook killed with SIGKILL between open and close: the kernel still closes the window
world_exec "$P" srv sh -c "'$ACMEGATE_BIN' -c '$conf' open --lease hook --ttl 3 && exec sleep 60" \
	2>/dev/null &
hook=$!
for _ in $(seq 50); do gate "$P" status | grep -q 'lease hook' && break; sleep 0.1; done
kill -9 $hook; wait $hook 2>/dev/null
tap_is "$(fetch "$P" ca "$CH")" "http:200:$TOKEN.keyauth" "the window is open after the hook died"
sleep 3.5
tap_is "$(fetch "$P" ca "$CH")" timeout "it closed itself at its deadline"
gate "$P" sweep >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "sweep leaves the ruleset as before"

# -- a connection opened during the window, idle until after close, does not live on
# (only the inet geoblock here: it accepts "established" connections)
gate "$P" open --lease idle >/dev/null 2>&1
world_exec "$P" ca python3 "$here/../lib/idle_conn.py" "$WORLD_SRV4" 2 >"$(world_dir "$P")/idle.out" &
idle=$!
sleep 1
out=$(gate "$P" close --lease idle 2>&1)
wait $idle
tap_like "$(cat "$(world_dir "$P")/idle.out")" "^(timeout|reset|closed)$" \
	"a connection made during the window is ended at close (no request passes afterwards)"
tap_like "$out" "ended 1 connection" "close says it ended the connection"

# -- someone deletes the path gate during a window: sweep closes the http-01 window
gate "$P" open --lease nogate --ttl 60 >/dev/null 2>&1
world_exec "$P" srv nft delete table inet acmegate
out=$(gate "$P" sweep 2>&1)
tap_like "$out" "path gate .* was removed" "sweep notices the missing path gate"
tap_is "$(fetch "$P" ca "http://$WORLD_SRV4/index.html")" timeout "and closes the port instead of leaving it whole"
gate "$P" close --all >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "the ruleset is as before"

# -- emptying the gate without deleting its table is noticed too
gate "$P" open --lease flushed --ttl 60 >/dev/null 2>&1
world_exec "$P" srv nft flush chain inet acmegate gate
out=$(gate "$P" sweep 2>&1)
tap_is "$(fetch "$P" ca "http://$WORLD_SRV4/index.html")" timeout "a flushed gate chain makes sweep close the port"
gate "$P" close --all >/dev/null 2>&1
world_exec "$P" srv nft delete table inet acmegate 2>/dev/null

# -- between a deadline and the next sweep, a connection made during the window gets nothing
gate "$P" open --lease late --ttl 2 >/dev/null 2>&1
world_exec "$P" ca python3 "$here/../lib/idle_conn.py" "$WORLD_SRV4" 3 >"$(world_dir "$P")/late.out"
tap_like "$(cat "$(world_dir "$P")/late.out")" "^(timeout|reset|closed)$" \
	"after the deadline, before any sweep, an idle connection from the window gets no page"
gate "$P" sweep >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "sweep then restores the ruleset"

# -- 20 concurrent open/close pairs, each with its own lease
pids=""
for i in $(seq 20); do
	( gate "$P" open --lease "c$i" >/dev/null 2>&1 && gate "$P" close --lease "c$i" >/dev/null 2>&1 ) &
	pids="$pids $!"
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
tap_is "$fails" 0 "20 concurrent open/close pairs all succeed"
tap_is "$(our_rules "$P")" 0 "no acmegate rule is left behind"
tap_is "$(ruleset "$P")" "$before" "the ruleset is as before"
tap_like "$(gate "$P" status)" "window: closed" "status shows the window closed"

# -- overlapping leases share the window; it closes with the last one
gate "$P" open --lease a >/dev/null 2>&1; gate "$P" open --lease b >/dev/null 2>&1
gate "$P" close --lease a >/dev/null 2>&1
tap_is "$(fetch "$P" ca "$CH")" "http:200:$TOKEN.keyauth" "the window stays open while a lease remains"
gate "$P" close --lease b >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$before" "it closes with the last lease"

# -- someone flushes the ruleset during a window
gate "$P" open --lease f >/dev/null 2>&1
world_exec "$P" srv nft flush ruleset
out=$(gate "$P" close --lease f 2>&1); rc=$?
tap_is "$rc" 0 "close after a flush succeeds"
tap_like "$out" "already gone" "close says the rules were already gone"
tap_is "$(world_exec "$P" srv nft list ruleset)" "" "close adds nothing back"
world_geoblock "$P"

# -- the admin reloads the firewall during a window: close and sweep must not reopen it
gate "$P" open --lease keep --ttl 60 >/dev/null 2>&1
gate "$P" open --lease brief --ttl 2 >/dev/null 2>&1
world_exec "$P" srv nft flush ruleset
world_geoblock "$P"
reloaded=$(ruleset "$P")
sleep 2.5
out=$(gate "$P" sweep 2>&1)
tap_is "$(ruleset "$P")" "$reloaded" "sweep after a reload reopens nothing"
tap_like "$out" "stays closed" "and says the window stays closed"
gate "$P" open --lease other --ttl 60 >/dev/null 2>&1
world_exec "$P" srv nft flush ruleset
world_geoblock "$P"
gate "$P" close --lease keep >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$reloaded" "close of another lease after a reload reopens nothing"
gate "$P" close --all >/dev/null 2>&1

# -- rules and tables that only look like acmegate's are the admin's: never touched
world_exec "$P" srv nft add rule inet filter input ip saddr 192.0.2.66 drop comment '"acmegate: keep this out"'
mine=$(ruleset "$P")
gate "$P" open --lease look >/dev/null 2>&1; gate "$P" close --lease look >/dev/null 2>&1
tap_is "$(ruleset "$P")" "$mine" "a rule whose comment merely starts with acmegate: survives"
world_exec "$P" srv nft 'add table inet acmegate; add chain inet acmegate mine { type filter hook input priority 0; }'
out=$(gate "$P" open --lease clash 2>&1); rc=$?
tap_like "$rc:$out" "^70:.*table inet acmegate exists" "a foreign table named inet acmegate is refused, not replaced"
world_exec "$P" srv nft delete table inet acmegate
gate "$P" close --all >/dev/null 2>&1
world_exec "$P" srv nft flush ruleset
world_geoblock "$P"

# -- nothing drops the traffic: open nothing, say so, exit 0
world_exec "$P" srv nft flush ruleset
out=$(gate "$P" open --lease none 2>&1); rc=$?
tap_is "$rc" 0 "open with no dropping chain exits 0"
tap_like "$out" "nothing to open" "and says there is nothing to open"
tap_is "$(world_exec "$P" srv nft list ruleset)" "" "and opens nothing"
gate "$P" close --lease none >/dev/null 2>&1
# a chain that drops only another port does not drop the challenge: the public site stays whole
world_exec "$P" srv nft 'add table inet only22; add chain inet only22 in { type filter hook input priority 0; policy accept; }; add rule inet only22 in tcp dport 22 drop'
out=$(gate "$P" open --lease p22 2>&1)
tap_like "$out" "nothing to open" "a chain dropping only tcp/22 needs no window for tcp/80"
tap_is "$(fetch "$P" ca "http://$WORLD_SRV4/index.html")" "http:200:private page" \
	"and the public site is not put behind the path gate"
gate "$P" close --lease p22 >/dev/null 2>&1
world_exec "$P" srv nft flush ruleset
world_geoblock "$P"

# -- no CAP_NET_ADMIN (as nobody, with a state dir it may write)
unpriv=$(mktemp -d /tmp/acmegate-unpriv.XXXXXX)
chmod 755 "$unpriv"; chown nobody "$unpriv"
printf '[gate]\nstate_dir = %s/state\n' "$unpriv" >"$unpriv/conf"; chmod 644 "$unpriv/conf"
out=$(world_exec "$P" srv setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$ACMEGATE_BIN" -c "$unpriv/conf" open 2>&1); rc=$?
rm -rf "$unpriv"
tap_is "$rc" 77 "open without CAP_NET_ADMIN exits 77"
tap_like "$out" "CAP_NET_ADMIN" "and says what is missing"
tap_is "$(ruleset "$P")" "$before" "and changes nothing"

# -- bad input: clear errors, documented exit codes, nothing opened
out=$(gate "$P" open --lease 'bad name' 2>&1); rc=$?
tap_is "$rc" 64 "a bad lease name exits 64"
out=$(gate "$P" open --ttl 99999 2>&1); rc=$?
tap_like "$rc:$out" "^64:.*max_ttl" "a ttl over max_ttl exits 64 and names max_ttl"
out=$(gate "$P" open --challenge smtp 2>&1); rc=$?
tap_like "$rc:$out" "^64:.*unknown challenge 'smtp'" "an unknown challenge exits 64"
printf '[gate]\nttl = 60\nopen_everything = yes\n' >"$conf.bad"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$conf.bad" open 2>&1); rc=$?
tap_like "$rc:$out" "^78:.*$conf.bad:3: unknown key 'open_everything'" "a bad config exits 78 with file:line"
out=$(gate "$P" close --all --lease x 2>&1); rc=$?
tap_is "$rc" 64 "close --all with --lease exits 64"
printf '[gate]\nstate_dir = /nonexistent/deeper/state\n' >"$conf.nostate"
out=$(world_exec "$P" srv "$ACMEGATE_BIN" -c "$conf.nostate" open 2>&1); rc=$?
tap_like "$rc:$out" "^74:.*/nonexistent/deeper/state" "an unusable state directory exits 74 and names it"
tap_is "$(ruleset "$P")" "$before" "bad input opened nothing"

# -- rules in iptables-legacy tables cannot be seen through: warn loudly
if world_exec "$P" srv iptables-legacy -A INPUT -p tcp --dport 80 -j DROP 2>/dev/null; then
	out=$(gate "$P" open --lease legacy 2>&1)
	tap_like "$out" "iptables-legacy" "open warns about iptables-legacy tables"
	gate "$P" close --lease legacy >/dev/null 2>&1
	world_exec "$P" srv iptables-legacy -F INPUT
else
	tap_ok "# SKIP iptables-legacy is not available in this kernel"
fi
exit $((TAP_FAILED > 0))
