#!/bin/bash
# tests/e2e/lego-dns.t: Debian's lego gets a certificate from Pebble with dns-01 through its
# `exec` DNS provider and acmegate's hooks/lego/dns-exec, for a geoblocked server that is also
# the zone's authoritative server (knotd in srv, example.test). Pebble resolves through that
# server, so its TXT lookup is dropped by the geoblock unless acmegate's dns window is open.
# The update program the hook wraps sets the TXT record with knotc, as a user's would.
# Needs root: a private simulated Internet of network namespaces (tests/lib/world.sh); never
# the host's network or ruleset. TAP; skips when not root.
#
# Checks: the geoblock drops the CA host's DNS queries; the certificate is issued; the window
# is closed afterwards; `nft list ruleset` in srv is as before; the exposure (printed, and
# recorded for bench/exposure); the window open no longer than the validation plus a few
# seconds; the record is gone again; without ACMEGATE_DNS_EXEC the hook refuses (64).
#
# Run:   sudo tests/run tests/e2e/lego-dns.t     (about 15 seconds)
# Env:   ACMEGATE_BIN, E2E_KEEP=1, E2E_SLACK_S: see tests/lib/issuance.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/issuance.sh
. "$repo/tests/lib/issuance.sh"

NAME=www.example.test
PREFIX=ld$$
ISS_NAME=lego-dns
PLAN=11
export WORLD_PEBBLE_DNS=$WORLD_SRV4:53

# knotd in srv, authoritative for example.test on srv's addresses, its socket in $T.
start_knot() {
	local d=$T/knot
	mkdir -p "$d/db" || return 1
	cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d"
    listen: [ $WORLD_SRV4@53, $WORLD_SRV6@53 ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$d/db"
control:
    listen: "$d/knot.sock"
zone:
  - domain: example.test.
    storage: "$d"
    file: "zone.db"
    zonefile-sync: -1
    journal-content: changes
EOF
	cat >"$d/zone.db" <<EOF
\$ORIGIN example.test.
\$TTL 30
@	SOA	ns hostmaster 1 3600 600 86400 30
@	NS	ns
ns	A	$WORLD_SRV4
www	A	$WORLD_SRV4
EOF
	world_spawn "$PREFIX" srv knot knotd -c "$d/knot.conf"
	world_wait_for 5 "knotd to answer" world_exec "$PREFIX" srv \
		kdig +timeout=1 +retry=0 +short "@$WORLD_SRV4" "$NAME" A
}

# The user's update program for lego's exec provider: present/cleanup FQDN VALUE.
write_update() {
	cat >"$T/update" <<EOF
#!/bin/sh
k() { knotc -s "$T/knot/knot.sock" -t 5 "\$@" >/dev/null; }
case "\$1" in
present) k zone-begin example.test. && k zone-set example.test. "\$2" 30 TXT "\\"\$3\\"" &&
	k zone-commit example.test. ;;
cleanup) k zone-begin example.test. && k zone-unset example.test. "\$2" TXT &&
	k zone-commit example.test. ;;
esac
EOF
	chmod 755 "$T/update"
}

ca_dns() {
	world_exec "$PREFIX" ca kdig +timeout=2 +retry=0 +short "@$WORLD_SRV4" "$@" 2>&1
}

# The CA host's queries to srv's DNS are dropped; srv itself gets its answer.
dns_geoblocked() {
	local got
	got=$(ca_dns "$NAME" A)
	case "$got" in
	*"timed out"* | *timeout* | "") return 0 ;;
	*) diag "ca -> $WORLD_SRV4:53 answered: $got"; return 1 ;;
	esac
}

no_txt_left() {
	local got
	got=$(world_exec "$PREFIX" srv kdig +timeout=1 +retry=0 +short "@$WORLD_SRV4" \
		"_acme-challenge.$NAME" TXT)
	[ -z "$got" ] || { diag "TXT still there: $got"; return 1; }
}

lego_dns() {
	local -a envs
	mapfile -t envs < <(iss_client_env)
	world_exec "$PREFIX" srv env "${envs[@]}" EXEC_PATH="$repo/hooks/lego/dns-exec" \
		ACMEGATE_DNS_EXEC="$T/update" EXEC_PROPAGATION_TIMEOUT=30 EXEC_POLLING_INTERVAL=1 \
		timeout 90 lego --server "$ACME_DIR_URL" --accept-tos --email test@example.test \
		--path "$T/dns" --key-type ec256 -d "$NAME" --dns exec --dns.disable-cp \
		--dns.resolvers "$WORLD_SRV4:53" run
}

refuses_without_update() {
	local rc
	world_exec "$PREFIX" srv env PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/path.conf" \
		"$repo/hooks/lego/dns-exec" present "_acme-challenge.$NAME." value >/dev/null 2>&1
	rc=$?
	[ "$rc" = 64 ] || { diag "exit $rc, want 64"; return 1; }
}

main() {
	iss_start lego knotd knotc kdig
	echo "1..$PLAN"
	iss_world
	check "knotd in srv serves example.test" start_knot
	check "the geoblock drops the CA host's queries to srv's DNS" dns_geoblocked
	write_update
	iss_issue dns-01 lego "dns-01 exec hook" yes "$T/dns/certificates/$NAME.crt" "$NAME" -- lego_dns
	check "dns-01: the TXT record is gone again" no_txt_left
	check "without ACMEGATE_DNS_EXEC the hook refuses with 64" refuses_without_update
	e2e_finish
}

main "$@"
