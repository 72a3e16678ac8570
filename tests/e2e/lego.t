#!/bin/bash
# tests/e2e/lego.t: Debian's lego (v4, which has no pre-hook) gets certificates from Pebble for
# a geoblocked server through `acmegate run -- lego ...`: http-01 into nginx's webroot (path
# mode, IPv4), tls-alpn-01 with lego's own responder on 443 (IPv6), and http-01 with lego's
# own server on 80 (port mode, nginx stopped, both families). Needs root: a private simulated
# Internet of network namespaces (tests/lib/world.sh); never the host's network or ruleset.
# TAP; skips when not root.
#
# Each issuance: the certificate, the window closed afterwards, `nft list ruleset` in srv as
# before, and the exposure from acmegate's exposure.log (printed, and recorded for
# bench/exposure). The window spans lego's whole run: lego v4 calls no hook before validating.
#
# Run:   sudo tests/run tests/e2e/lego.t     (about 30 seconds)
# Env:   ACMEGATE_BIN, E2E_KEEP=1: see tests/lib/issuance.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/issuance.sh
. "$repo/tests/lib/issuance.sh"

NAME=www.example.test
PREFIX=lg$$
ISS_NAME=lego
PLAN=15

# lego_run DIR RUN_ARGS -- LEGO_ARGS: `acmegate run RUN_ARGS -- lego ... LEGO_ARGS run` in srv.
lego_run() {
	local dir=$1
	local -a envs run=()
	shift
	while [ "$1" != -- ]; do run+=("$1"); shift; done
	shift
	mapfile -t envs < <(iss_client_env)
	world_exec "$PREFIX" srv env "${envs[@]}" timeout 90 \
		"$T/bin/acmegate" run --lease lego "${run[@]}" -- \
		lego --server "$ACME_DIR_URL" --accept-tos --email test@example.test --path "$dir" \
		--key-type ec256 -d "$NAME" "$@" run
}

# issue LABEL MODE FAMILY RUN_ARGS -- LEGO_ARGS: one certificate; four TAP lines.
issue() {
	local label=$1 mode=$2 fam=$3
	shift 3
	world_dns "$PREFIX" "$NAME" "$fam" || bail "could not set DNS for $NAME"
	iss_issue "$label" lego "$mode" no "$T/$label/certificates/$NAME.crt" "$NAME" -- \
		lego_run "$T/$label" "$@"
}

# Standalone lego listens on port 80 itself: nginx has to go.
stop_nginx() {
	local pid
	pid=$(cat "$WD/nginx.pid" 2>/dev/null) || return 1
	kill -TERM "$pid" || return 1
	world_wait_for 5 "nginx to stop" bash -c "! kill -0 $pid 2>/dev/null"
}

main() {
	iss_start lego
	echo "1..$PLAN"
	iss_world
	issue webroot "http-01 webroot, run" 4 -- --http --http.webroot "$T/www"
	issue tls-alpn "tls-alpn-01, run" 6 --challenge tls-alpn-01 -- --tls
	check "nginx stopped for lego's own server on port 80" stop_nginx
	issue standalone "http-01 port, run" 46 --mode port -- --http
	e2e_finish
}

main "$@"
