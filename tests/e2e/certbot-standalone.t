#!/bin/bash
# tests/e2e/certbot-standalone.t: Debian's certbot with its standalone plugin (its own web
# server on port 80, no nginx) gets a certificate from Pebble for a geoblocked server, through
# the certbot pre/post hooks opening acmegate's window in port mode
# (`hooks/certbot/pre --challenge http-01 --mode port`). Needs root: a private simulated
# Internet of network namespaces (tests/lib/world.sh); never the host's network or ruleset.
#
# Over IPv4 (A only) and IPv6 (AAAA only), and again behind an nft-geo-filter style ingress
# geoblock: the certificate is issued, the window is closed afterwards and the CA is dropped
# again, `nft list ruleset` in srv equals what it was before, and the window's open time
# (acmegate's exposure.log) is printed and recorded for bench/exposure.
#
# Run:   sudo tests/run tests/e2e/certbot-standalone.t     (about 50 s)
# Env:   ACMEGATE_BIN (default <repo>/build/acmegate), E2E_KEEP=1, EXPOSURE_TABLE
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PREFIX=cs$$
PLAN=29
# shellcheck source-path=SCRIPTDIR source=../lib/clienttest.sh
. "$repo/tests/lib/clienttest.sh"
NAME=www.example.test
PRE="$repo/hooks/certbot/pre --challenge http-01 --mode port"
POST=$repo/hooks/certbot/post

# Without the window certbot's server is never reached: validation fails.
run_without_hooks() {
	local run=plain
	world_dns "$PREFIX" "$NAME" 4 || bail "could not set DNS for $NAME"
	if ct_certbot "$run" --standalone -d "$NAME" --preferred-challenges http; then
		not_ok "without hooks: validation fails under the geoblock"
		ct_certbot_diag "$run"
	elif ! grep -q 'Type: *connection' "$T/$run/out.log"; then
		not_ok "without hooks: validation fails with a connection problem"
		ct_certbot_diag "$run"
	else
		ok "without hooks: validation fails under the geoblock (connection)"
	fi
}

# run_with_hooks RUN FAMILY LABEL: eight TAP lines.
run_with_hooks() {
	local run=$1 fam=$2 label=$3 before=$T/$1.ruleset.before lines
	world_dns "$PREFIX" "$NAME" "$fam" || bail "could not set DNS for $NAME"
	e2e_ruleset >"$before"
	lines=$(e2e_exposure_lines)
	if ct_certbot "$run" --standalone -d "$NAME" --preferred-challenges http \
		--pre-hook "$PRE" --post-hook "$POST" && ct_issued "$run" "$NAME"; then
		ok "$run ($label): certificate issued ($CT_RUN_MS ms)"
	else
		not_ok "$run ($label): certificate issued"
		ct_certbot_diag "$run"
	fi
	if grep -q "opened http-01 (port mode) for lease 'certbot'" "$T/$run/logs/letsencrypt.log"; then
		ok "$run: the pre-hook opened http-01 in port mode"
	else
		not_ok "$run: the pre-hook opened http-01 in port mode"
		ct_certbot_diag "$run"
	fi
	if grep -q "Running post-hook command" "$T/$run/logs/letsencrypt.log" &&
		grep -q "closed lease 'certbot'" "$T/$run/logs/letsencrypt.log"; then
		ok "$run: the post-hook closed lease 'certbot'"
	else
		not_ok "$run: the post-hook closed lease 'certbot'"
	fi
	ct_after "$run" "$before" certbot-standalone "port, run hooks" "$lines"
	check "$run: the CA host is dropped again" ct_ca_dropped
	# A run-level window spans the whole run but certbot's start: it cannot be longer.
	if [ -n "$OPEN_MS" ] && [ "$OPEN_MS" -le "$CT_RUN_MS" ]; then
		ok "$run: window open $OPEN_MS ms, within certbot's $CT_RUN_MS ms run"
	else
		not_ok "$run: window open (${OPEN_MS:-?} ms) within certbot's $CT_RUN_MS ms run"
	fi
}

main() {
	ct_preconditions certbot
	ct_start
	ct_world_services plain
	run_without_hooks
	run_with_hooks v4 4 "IPv4, A only"
	run_with_hooks v6 6 "IPv6, AAAA only"
	world_geoblock_ingress "$PREFIX" || bail "could not load the ingress geoblock"
	check "ingress geoblock added: the CA host is still dropped" ct_ca_dropped
	run_with_hooks ingress4 4 "ingress geoblock, IPv4"
	e2e_finish
}

main "$@"
