#!/bin/bash
# tests/e2e/certbot-webroot.t: Debian's certbot (webroot plugin) gets a
# certificate from Pebble for a geoblocked server, through acmegate's certbot
# hooks (hooks/certbot/pre and post). Needs root: it builds a private simulated
# Internet of network namespaces (tests/lib/world.sh) and never touches the
# host's network or ruleset. TAP output; skips when not root.
#
# It checks that plain certbot fails under the geoblock; that with the hooks a
# certificate is issued over IPv4 (A record only) and over IPv6 (AAAA only),
# first with the distro "inet filter" geoblock, then with an nft-geo-filter
# style netdev ingress table added; that the challenge really came from the CA
# host over the expected family; and that after each run `nft list ruleset` in
# the server equals what it was before.
#
# Run:   sudo prove -v tests/e2e/certbot-webroot.t     (about 1 minute)
# Env:   ACMEGATE_BIN   the binary (default: <repo>/build/acmegate)
#        E2E_KEEP=1     keep the temp dir and the world's logs
#        E2E_PRE_HOOK / E2E_POST_HOOK   other hook commands, for developing the
#                       test world without the binary (default: the real hooks)
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
# shellcheck source-path=SCRIPTDIR source=../lib/clienttest.sh
. "$repo/tests/lib/clienttest.sh"

PRE_HOOK=${E2E_PRE_HOOK:-$repo/hooks/certbot/pre}
POST_HOOK=${E2E_POST_HOOK:-$repo/hooks/certbot/post}
NAME=www.example.test
PREFIX=cb$$
PLAN=19

# ---- preconditions and setup -----------------------------------------------

preconditions() {
	e2e_preconditions ip nft nginx pebble pebble-challtestsrv certbot openssl curl timeout
	[ -n "${E2E_PRE_HOOK:-}${E2E_POST_HOOK:-}" ] || e2e_need_bin
}

make_env() {
	e2e_make_dirs e2e
	e2e_write_conf "$T/acmegate.conf" path tests/e2e/certbot-webroot.t
}

setup_world() {
	local t0=$SECONDS
	e2e_world_up
	ok "world up: home, ca and srv routed through rt, IPv4 and IPv6 ($((SECONDS - t0))s)"
}

# Home reaches nginx over both families; the CA host's connections time out.
check_geoblock() {
	local rc=0
	e2e_home_reaches_nginx || rc=1
	e2e_ca_dropped 80 || rc=1
	return "$rc"
}

setup_services() {
	world_geoblock "$PREFIX" || bail "could not load the geoblock into $PREFIX-srv"
	world_nginx "$PREFIX" "$T/www" || bail "nginx did not start"
	check "geoblock loaded: home reaches nginx, the CA host is dropped (IPv4, IPv6)" \
		check_geoblock
	e2e_pebble
	ok "Pebble answers on $ACME_DIR_URL"
}

# ---- one certbot run -------------------------------------------------------

# certbot_run RUN hooks|nohooks: certbot in srv with a fresh account and dirs
# under $T/RUN; its output in $T/RUN/out.log. Returns certbot's status.
certbot_run() {
	local run=$1 hooks=$2 dir=$T/$1
	local -a args envs
	mkdir -p "$dir"
	args=(certonly --webroot -w "$T/www" -d "$NAME" --preferred-challenges http
		--server "$ACME_DIR_URL" --config-dir "$dir/config" --work-dir "$dir/work"
		--logs-dir "$dir/logs" --register-unsafely-without-email --agree-tos
		--non-interactive)
	[ "$hooks" = hooks ] && args+=(--pre-hook "$PRE_HOOK" --post-hook "$POST_HOOK")
	mapfile -t envs < <(e2e_client_env "${CONF_OVERRIDE:-$T/acmegate.conf}")
	world_exec "$PREFIX" srv env "${envs[@]}" REQUESTS_CA_BUNDLE="$WD/tls-ca.pem" \
		timeout 90 certbot "${args[@]}" >"$dir/out.log" 2>&1 &
	# In the background so that a signal reaches our trap at once.
	wait "$!"
}

# challenge_from SINCE ADDR: the challenge requests logged after line SINCE of
# nginx's access log all came from ADDR, and there was at least one.
challenge_from() {
	local since=$1 addr=$2 lines
	lines=$(tail -n "+$((since + 1))" "$WD/nginx-access.log" | grep acme-challenge)
	[ -n "$lines" ] || { diag "no challenge request reached nginx"; return 1; }
	if printf '%s\n' "$lines" | grep -qv "^$addr "; then
		diag "challenge requests not all from $addr:"
		printf '%s\n' "$lines" | sed 's/^/#   /'
		return 1
	fi
}

access_lines() { wc -l <"$WD/nginx-access.log"; }

# ---- the scenarios ---------------------------------------------------------

# Plain certbot under the geoblock: Pebble's connection to port 80 times out.
run_without_hooks() {
	local run=plain4 t0=$SECONDS
	world_dns "$PREFIX" "$NAME" 4 || bail "could not set DNS for $NAME"
	if certbot_run "$run" nohooks; then
		not_ok "without hooks, IPv4: validation fails under the geoblock"
		ct_certbot_diag "$run" nginx
	elif [ -e "$T/$run/config/live/$NAME" ]; then
		not_ok "without hooks, IPv4: validation fails (yet a certificate exists)"
	elif ! grep -q 'Type: *connection' "$T/$run/out.log"; then
		not_ok "without hooks, IPv4: validation fails with a connection problem"
		ct_certbot_diag "$run" nginx
	else
		ok "without hooks, IPv4: validation fails under the geoblock ($((SECONDS - t0))s)"
		grep -m1 -E "Detail:|Timeout|timeout" "$T/$run/out.log" | sed 's/^/#   certbot: /'
	fi
}

# run_with_hooks RUN FAMILY LABEL: certbot with the hooks, the name resolving
# only to the FAMILY (4 or 6) address; three TAP lines.
# report_exposure LINES_BEFORE RUN_MS: the window this run closed, printed and recorded for
# bench/exposure (pre/post hooks: open for the whole run, by design).
report_exposure() {
	local open_ms
	[ "$(e2e_exposure_lines)" -gt "$1" ] || return 0
	open_ms=$(exposure_last_open_ms "$T/state")
	diag "exposure: certbot webroot (pre/post hooks): window open $open_ms ms of a $2 ms run"
	exposure_record certbot-webroot "path, run hooks" "$open_ms" "$2"
}

run_with_hooks() {
	local run=$1 fam=$2 label=$3 t0=$SECONDS since ca_addr before after
	[ "$fam" = 4 ] && ca_addr=$WORLD_CA4 || ca_addr=$WORLD_CA6
	world_dns "$PREFIX" "$NAME" "$fam" || bail "could not set DNS for $NAME"
	before=$T/$run.ruleset.before
	after=$T/$run.ruleset.after
	e2e_ruleset >"$before"
	since=$(access_lines)
	local lines t0ms
	lines=$(e2e_exposure_lines)
	t0ms=$(exposure_now_ms)
	if certbot_run "$run" hooks && ct_issued "$run" "$NAME"; then
		ok "with hooks, $label: certificate issued ($((SECONDS - t0))s)"
	else
		not_ok "with hooks, $label: certificate issued"
		ct_certbot_diag "$run" nginx
	fi
	report_exposure "$lines" "$(($(exposure_now_ms) - t0ms))"
	check "$label: Pebble fetched the challenge from $ca_addr" challenge_from "$since" "$ca_addr"
	e2e_ruleset >"$after"
	check "$label: nft ruleset after the run equals the one before" e2e_same_ruleset "$before" "$after"
}

# The pre-hook fails (a broken config): certbot goes on, and its output must show why and
# what it costs.
run_hook_failure() {
	local run=hookfail before after
	world_dns "$PREFIX" "$NAME" 4 || bail "could not set DNS for $NAME"
	printf '[gate]\nstate_dir = %s/state\nttl = forever\n' "$T" >"$T/broken.conf"
	e2e_ruleset >"$T/$run.before"
	CONF_OVERRIDE="$T/broken.conf" certbot_run "$run" hooks
	if grep -q "validation window did NOT open" "$T/$run/out.log" &&
		grep -q "broken.conf:3: bad value 'forever' for key 'ttl'" "$T/$run/out.log"; then
		ok "a failing pre-hook's message and reason show in certbot's output"
	else
		not_ok "a failing pre-hook's message and reason show in certbot's output"
		ct_certbot_diag "$run" nginx
	fi
	e2e_ruleset >"$T/$run.after"
	check "a failing pre-hook opens nothing" e2e_same_ruleset "$T/$run.before" "$T/$run.after"
}

main() {
	preconditions
	e2e_traps
	make_env
	echo "1..$PLAN"
	[ -n "${E2E_PRE_HOOK:-}${E2E_POST_HOOK:-}" ] && diag "hooks: $PRE_HOOK / $POST_HOOK"
	setup_world
	setup_services
	run_without_hooks
	run_hook_failure
	run_with_hooks v4 4 "IPv4 (A only)"
	run_with_hooks v6 6 "IPv6 (AAAA only)"
	world_geoblock_ingress "$PREFIX" || bail "could not load the ingress geoblock"
	check "ingress geoblock added: the CA host is still dropped" check_geoblock
	run_with_hooks ingress4 4 "ingress + IPv4"
	run_with_hooks ingress6 6 "ingress + IPv6"
	e2e_finish
}

main "$@"
