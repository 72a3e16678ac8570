#!/bin/bash
# tests/e2e/certbot-manual.t: Debian's certbot with its manual plugin and acmegate's per-challenge
# hooks (hooks/certbot/manual-auth and manual-cleanup) gets certificates from Pebble for a
# geoblocked server. Needs root: a private simulated Internet of network namespaces
# (tests/lib/world.sh); never the host's network or ruleset.
#
# 1. The hooks' contract, called as certbot calls them for two challenges: the auth hook
#    publishes the key authorization under the webroot and opens a window through which the
#    CA host gets that token and nothing else (no other token, no other path); cleanup removes
#    both, that token alone, and the window closes with the last one.
# 2. http-01 for two names (www over IPv4, a2 over IPv6), so two challenges: each its own
#    token-exact window, served by nginx.
# 3. dns-01 for the same two names, srv being the zone's authoritative server (knot), updated
#    by knsupdate with a TSIG key, and Pebble resolving the TXT records from srv itself: the
#    hook opens port 53 because srv holds the address of the zone's NS. Then the same with
#    ACMEGATE_DNS_AUTHORITATIVE=no fails (port 53 stays closed), and for a zone whose NS is
#    elsewhere the hook publishes the record and leaves port 53 closed.
# For each issuance: the certificate is issued, the window is closed afterwards and the CA
# host dropped again, `nft list ruleset` in srv equals what it was before, the window's open
# time (acmegate's exposure.log) is printed and recorded for bench/exposure, and it is no
# longer than the validation (from the last auth hook's end to the first cleanup's start)
# plus SLACK_MS.
#
# Run:   sudo tests/run tests/e2e/certbot-manual.t     (about 40 s)
# Env:   ACMEGATE_BIN (default <repo>/build/acmegate), E2E_KEEP=1, EXPOSURE_TABLE,
#        E2E_SLACK_MS (default 8000: hooks and acmegate on a loaded 2-core CI machine)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PREFIX=cm$$
PLAN=34
# shellcheck source-path=SCRIPTDIR source=../lib/clienttest.sh
. "$repo/tests/lib/clienttest.sh"
ZONE=example.test
OTHER=other.test
NAME1=www.$ZONE
NAME2=a2.$ZONE
AUTH=$repo/hooks/certbot/manual-auth
CLEANUP=$repo/hooks/certbot/manual-cleanup
SLACK_MS=${E2E_SLACK_MS:-8000}
KNOT=""

# ---- the hooks' contract ---------------------------------------------------

# ca_get PATH: what the CA host gets for http://www.example.test/PATH over IPv4: "STATUS BODY",
# or "000 " when the connection is dropped or reset.
ca_get() {
	local out
	out=$(world_exec "$PREFIX" ca env -u http_proxy curl -s -m 3 -w '\n%{http_code}' \
		-H "Host: $NAME1" "http://$WORLD_SRV4$1")
	printf '%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}

# hook auth|cleanup TOKEN REMAINING: a manual hook run in srv as certbot runs it, for the
# challenge TOKEN (its key authorization: ka TOKEN).
hook() {
	local which=$AUTH
	[ "$1" = cleanup ] && which=$CLEANUP
	world_exec "$PREFIX" srv env PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/acmegate.conf" \
		ACMEGATE_WEBROOT="$T/www" ACMEGATE_HOOKS_CONF=/nonexistent CERTBOT_DOMAIN="$NAME1" \
		CERTBOT_TOKEN="$2" CERTBOT_VALIDATION="$(ka "$2")" CERTBOT_REMAINING_CHALLENGES="$3" \
		CERTBOT_ALL_DOMAINS="$NAME1" "$which" >>"$T/contract.log" 2>&1
}

ka() { printf '%s.CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC' "$1"; }

# gets TOKEN: the CA host gets TOKEN's key authorization.
gets() { [ "$(ca_get "/.well-known/acme-challenge/$1")" = "200 $(ka "$1")" ]; }
# blocked PATH: the CA host's request for PATH does not reach nginx.
blocked() {
	local got
	got=$(ca_get "$1")
	[ "${got%% *}" = 000 ] || { diag "the CA host got $1: '$got'"; return 1; }
}

# Two challenges as certbot runs them: both auth hooks, then both cleanups; each token has a
# window of its own within lease certbot-manual.
contract() {
	local t1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA t2=EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE
	local other=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
	local before=$T/contract.ruleset.before dir=$T/www/.well-known/acme-challenge
	world_dns "$PREFIX" "$NAME1" 4 || bail "could not set DNS for $NAME1"
	e2e_ruleset >"$before"
	mkdir -p "$dir" && echo other >"$dir/$other" && echo site >"$T/www/index.html"
	if hook auth "$t1" 1 && hook auth "$t2" 0 && [ "$(cat "$dir/$t1")" = "$(ka "$t1")" ]; then
		ok "contract: the auth hooks write the key authorizations under ACMEGATE_WEBROOT"
	else
		not_ok "contract: the auth hooks write the key authorizations under ACMEGATE_WEBROOT"
		world_tail "$T/contract.log"
	fi
	check "contract: the CA host gets both tokens" eval "gets $t1 && gets $t2"
	check "contract: the CA host does not get another token whose file exists" \
		blocked "/.well-known/acme-challenge/$other"
	check "contract: the CA host does not get the site" blocked /index.html
	if hook cleanup "$t1" 1 && [ ! -e "$dir/$t1" ]; then
		ok "contract: the first cleanup removes its file"
	else
		not_ok "contract: the first cleanup removes its file"
		world_tail "$T/contract.log"
	fi
	ka "$t1" >"$dir/$t1"
	check "contract: after it, the first token is blocked even with its file back; the second passes" \
		eval "blocked /.well-known/acme-challenge/$t1 && gets $t2"
	rm -f "$dir/$t1"
	check "contract: the last cleanup closes the window: the CA host is dropped again" \
		eval "hook cleanup $t2 0 && [ ! -e $dir/$t2 ] && ct_ca_dropped && ct_window_closed"
	e2e_ruleset >"$T/contract.ruleset.after"
	check "contract: nft ruleset after the hooks equals the one before" \
		e2e_same_ruleset "$before" "$T/contract.ruleset.after"
	rm -f "$dir/$other" "$T/www/index.html"
}

# ---- one certbot --manual issuance -----------------------------------------

# The validation as certbot's user sees it: from the end of the last auth hook to the start
# of the first cleanup, ms (T/hooktimes, from T/bin/timed).
validation_ms() {
	awk '$1 == "auth" && $2 == "end" && $3 > a { a = $3 }
	     $1 == "cleanup" && $2 == "start" && (c == "" || $3 < c) { c = $3 }
	     END { if (a && c) print c - a }' "$T/hooktimes"
}

hook_runs() { grep -c "^$1 end" "$T/hooktimes"; }

# manual_run RUN CHALLENGE MODE: certbot --manual for both names; seven TAP lines.
manual_run() {
	local run=$1 chall=$2 mode=$3 before=$T/$1.ruleset.before lines v
	e2e_ruleset >"$before"
	lines=$(e2e_exposure_lines)
	: >"$T/hooktimes"
	if ct_certbot "$run" --manual --preferred-challenges "$chall" -d "$NAME1" -d "$NAME2" \
		--manual-auth-hook "$T/bin/timed auth $AUTH" \
		--manual-cleanup-hook "$T/bin/timed cleanup $CLEANUP" &&
		ct_issued "$run" "$NAME1" "$NAME2"; then
		ok "$run: certificate issued for $NAME1 and $NAME2 ($CT_RUN_MS ms)"
	else
		not_ok "$run: certificate issued for $NAME1 and $NAME2"
		ct_certbot_diag "$run"
	fi
	check "$run: auth and cleanup hooks ran once per challenge (2 each)" \
		[ "$(hook_runs auth):$(hook_runs cleanup)" = 2:2 ]
	ct_after "$run" "$before" certbot-manual "$mode" "$lines"
	check "$run: the CA host is dropped again" ct_ca_dropped
	v=$(validation_ms)
	diag "$run: window open ${OPEN_MS:-?} ms; validation ${v:-?} ms; certbot's run $CT_RUN_MS ms"
	if [ -n "$OPEN_MS" ] && [ -n "$v" ] && [ "$OPEN_MS" -le $((v + SLACK_MS)) ]; then
		ok "$run: window open no longer than the validation + $SLACK_MS ms"
	else
		not_ok "$run: window open (${OPEN_MS:-?} ms) no longer than the validation (${v:-?} ms) + $SLACK_MS ms"
	fi
}

http_manual() {
	local dir=$T/www/.well-known/acme-challenge left
	world_dns "$PREFIX" "$NAME1" 4 || bail "could not set DNS for $NAME1"
	world_dns "$PREFIX" "$NAME2" 6 || bail "could not set DNS for $NAME2"
	CT_ENV=(ACMEGATE_WEBROOT="$T/www" ACMEGATE_HOOKS_CONF=/nonexistent)
	local since
	since=$(wc -l <"$WD/nginx-access.log")
	manual_run http "http" "path, per challenge"
	left=$(find "$dir" -type f 2>/dev/null | wc -l)
	check "http: the cleanup hooks removed the challenge files ($left left)" [ "$left" = 0 ]
	check "http: nginx served the CA two challenges, from $WORLD_CA4 and $WORLD_CA6" \
		challenges_from "$since"
}

# Both challenges reached nginx, one over each family, from the CA host.
challenges_from() {
	local lines
	lines=$(tail -n "+$(($1 + 1))" "$WD/nginx-access.log" | grep 'acme-challenge/.* 200 ')
	printf '%s\n' "$lines" | grep -q "^$WORLD_CA4 " && printf '%s\n' "$lines" | grep -q "^$WORLD_CA6 " &&
		return 0
	diag "challenge requests in nginx's access log:"
	printf '%s\n' "$lines" | sed 's/^/#   /'
	return 1
}

# ---- dns-01 with srv as the zone's authoritative server -------------------

zone_file() {
	if [ "${1:-}" = other ]; then
		printf '%s\n' "\$ORIGIN $OTHER." "\$TTL 30" "@ SOA ns hostmaster 1 3600 600 86400 30" \
			"@ NS ns" "ns A 203.0.113.99" "www A $WORLD_SRV4"
		return
	fi
	cat <<EOF
\$ORIGIN $ZONE.
\$TTL 30
@ SOA ns1 hostmaster 1 3600 600 86400 30
@ NS ns1
ns1 A $WORLD_SRV4
ns1 AAAA $WORLD_SRV6
www A $WORLD_SRV4
a2 AAAA $WORLD_SRV6
EOF
}

knot_conf() {
	cat <<EOF
server:
    rundir: "$KNOT"
    listen: [ $WORLD_SRV4@53, $WORLD_SRV6@53, 127.0.0.1@53 ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$KNOT/db"
control:
    listen: "$KNOT/knot.sock"
key:
  - id: acmegate
    algorithm: hmac-sha256
    secret: $1
acl:
  - id: local-update
    address: [ 127.0.0.1 ]
    key: acmegate
    action: update
zone:
  - domain: $ZONE.
    storage: "$KNOT"
    file: "zone.db"
    zonefile-sync: -1
    journal-content: changes
    acl: local-update
  - domain: $OTHER.
    storage: "$KNOT"
    file: "other.db"
    zonefile-sync: -1
    journal-content: changes
    acl: local-update
EOF
}

knot_start() {
	local secret
	KNOT=$WD/knot
	mkdir -p "$KNOT/db" || return 1
	secret=$(openssl rand -base64 32) || return 1
	printf 'hmac-sha256:acmegate:%s\n' "$secret" >"$T/tsig.key"
	zone_file >"$KNOT/zone.db"
	zone_file other >"$KNOT/other.db"
	knot_conf "$secret" >"$KNOT/knot.conf"
	knotc -c "$KNOT/knot.conf" conf-check >/dev/null 2>&1 ||
		{ diag "knot rejects its config"; return 1; }
	world_spawn "$PREFIX" srv knot knotd -c "$KNOT/knot.conf"
	world_wait_for 10 "knot on srv" dns_answers srv 127.0.0.1 ||
		{ world_tail "$WD/knot.log"; return 1; }
}

# dns_answers NODE SERVER: SERVER answers NODE the zone's SOA within a second.
dns_answers() {
	world_exec "$PREFIX" "$1" kdig @"$2" +timeout=1 +retry=0 +short SOA "$ZONE" 2>/dev/null | grep -q ns1
}

ca_dns_dropped() {
	local addr
	for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
		! dns_answers ca "$addr" || { diag "ca -> $addr:53 answered"; return 1; }
	done
}

# Pebble again, now resolving from srv's knot: its http-01 names came from challtestsrv.
pebble_from_srv() {
	local pid node log
	while read -r pid node log; do
		[ "$node:$log" = ca:pebble ] && kill "$pid" 2>/dev/null && tail --pid="$pid" -f /dev/null
	done <"$WD/pids"
	world_spawn "$PREFIX" ca pebble-srvdns env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		PEBBLE_AUTHZREUSE=0 pebble -config "$WD/pebble.json" -dnsserver "$WORLD_SRV4:53"
	world_wait_for 10 "Pebble's directory" world_pebble_answers "$PREFIX" ||
		{ world_tail "$WD/pebble-srvdns.log"; return 1; }
}

no_txt_left() {
	local n
	for n in "$NAME1" "$NAME2"; do
		[ -z "$(world_exec "$PREFIX" srv kdig @127.0.0.1 +short TXT "_acme-challenge.$n")" ] ||
			{ diag "_acme-challenge.$n still has a TXT record"; return 1; }
	done
}

dns_manual() {
	knot_start || bail "knot did not start in srv"
	pebble_from_srv || bail "Pebble did not restart with srv as its DNS server"
	check "dns: knot serves $ZONE in srv; the CA host's queries to port 53 are dropped" \
		ca_dns_dropped
	CT_ENV=(ACMEGATE_HOOKS_CONF=/nonexistent ACMEGATE_DNS_SERVER=127.0.0.1
		"ACMEGATE_DNS_UPDATE=knsupdate -k $T/tsig.key")
	manual_run dns dns "dns, per challenge"
	check "dns: the cleanup hooks deleted the TXT records" no_txt_left
	if grep -q "opened dns for lease 'certbot-manual-dns'" "$T/dns/logs/letsencrypt.log"; then
		ok "dns: the auth hook opened port 53 (srv is the zone's authoritative server)"
	else
		not_ok "dns: the auth hook opened port 53 (srv is the zone's authoritative server)"
		ct_certbot_diag dns
	fi
	check "dns: the CA host's queries to port 53 are dropped again" ca_dns_dropped
}

# The same with ACMEGATE_DNS_AUTHORITATIVE=no: the records are published, port 53 stays closed,
# and the CA cannot see them. Shows that the window is what made the run above work.
dns_closed() {
	local run=dnsno
	CT_ENV=(ACMEGATE_HOOKS_CONF=/nonexistent ACMEGATE_DNS_SERVER=127.0.0.1
		ACMEGATE_DNS_AUTHORITATIVE=no "ACMEGATE_DNS_UPDATE=knsupdate -k $T/tsig.key")
	if ct_certbot "$run" --manual --preferred-challenges dns -d "$NAME1" \
		--manual-auth-hook "$AUTH" --manual-cleanup-hook "$CLEANUP"; then
		not_ok "dns, port 53 kept closed: validation fails"
		ct_certbot_diag "$run"
	else
		ok "dns, port 53 kept closed: validation fails ($CT_RUN_MS ms)"
		grep -m1 -E "Detail:" "$T/$run/out.log" | sed 's/^/#   certbot: /'
	fi
	check "dns, port 53 kept closed: no lease, the TXT records deleted" closed_and_clean
}

closed_and_clean() { ct_window_closed && no_txt_left; }

# A zone this host serves but is not authoritative for (its NS is elsewhere): the auth hook
# publishes the record and leaves port 53 closed, as `auto` says.
dns_not_ours() {
	local out
	out=$(world_exec "$PREFIX" srv env PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/acmegate.conf" \
		ACMEGATE_HOOKS_CONF=/nonexistent ACMEGATE_DNS_SERVER=127.0.0.1 \
		"ACMEGATE_DNS_UPDATE=knsupdate -k $T/tsig.key" CERTBOT_DOMAIN="www.$OTHER" \
		CERTBOT_VALIDATION=DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD \
		CERTBOT_REMAINING_CHALLENGES=0 "$AUTH" 2>&1)
	case "$out" in
	*"$OTHER. is not served from this host: port 53 stays closed"*)
		check "dns, a zone whose NS is elsewhere: published, port 53 left closed" \
			published_closed "_acme-challenge.www.$OTHER" ;;
	*)
		not_ok "dns, a zone whose NS is elsewhere: published, port 53 left closed"
		printf '%s\n' "$out" | sed 's/^/#   /' ;;
	esac
}

published_closed() {
	[ -n "$(world_exec "$PREFIX" srv kdig @127.0.0.1 +short TXT "$1")" ] && ct_window_closed
}

main() {
	ct_preconditions certbot nginx knotd knotc knsupdate kdig
	ct_start
	ct_world_services nginx
	contract
	http_manual
	dns_manual
	dns_closed
	dns_not_ours
	e2e_finish
}

main "$@"
