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
# shellcheck source-path=SCRIPTDIR source=../lib/world.sh
. "$repo/tests/lib/world.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/exposure.sh
. "$repo/tests/lib/exposure.sh"

ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
PRE_HOOK=${E2E_PRE_HOOK:-$repo/hooks/certbot/pre}
POST_HOOK=${E2E_POST_HOOK:-$repo/hooks/certbot/post}
NAME=www.example.test
PREFIX=cb$$
ACME_DIR_URL="https://$WORLD_CA4:$WORLD_ACME_PORT/dir"
PLAN=19
T=""
WD=""
testno=0
failed=0

ok() { testno=$((testno + 1)); printf 'ok %d - %s\n' "$testno" "$1"; }
not_ok() {
	testno=$((testno + 1))
	failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$testno" "$1"
}
# check DESC CMD...: one TAP line from CMD's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
diag() { printf '# %s\n' "$*"; }
bail() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# ---- preconditions ---------------------------------------------------------

skip_all() {
	# Under CI a missing tool is a broken setup, not a reason to skip.
	if [ "${CI:-}" = true ] && [ "$1" != root ]; then bail "$2"; fi
	printf '1..0 # SKIP %s\n' "$2"
	exit 0
}

preconditions() {
	local tool
	[ "$(id -u)" = 0 ] || skip_all root "needs root (network namespaces, nftables)"
	for tool in ip nft nginx pebble pebble-challtestsrv certbot openssl curl timeout; do
		command -v "$tool" >/dev/null || skip_all tool "$tool not installed"
	done
	if [ -z "${E2E_PRE_HOOK:-}${E2E_POST_HOOK:-}" ] && [ ! -x "$ACMEGATE_BIN" ]; then
		bail "acmegate binary not found at $ACMEGATE_BIN (build it, or set ACMEGATE_BIN)"
	fi
}

# ---- setup and cleanup -----------------------------------------------------

cleanup() {
	world_down "$PREFIX"
	if [ -n "$T" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then diag "kept $T"; else rm -rf "$T"; fi
	fi
}

# The hooks find `acmegate` in PATH: a private bin dir holds a link to the
# binary under test, whatever its file name.
make_env() {
	T=$(mktemp -d /tmp/acmegate-e2e.XXXXXX) || bail "mktemp failed"
	mkdir -p "$T/bin" "$T/www" || bail "cannot populate $T"
	mkdir -m 700 "$T/state" || bail "cannot create $T/state"
	ln -s "$ACMEGATE_BIN" "$T/bin/acmegate"
	cat >"$T/acmegate.conf" <<EOF
; acmegate config for tests/e2e/certbot-webroot.t
[gate]
state_dir = $T/state
ttl = 600
http01_mode = path
EOF
}

setup_world() {
	local t0=$SECONDS
	world_up "$PREFIX" || bail "could not build the test world"
	WD=$(world_dir "$PREFIX")
	ok "world up: home, ca and srv routed through rt, IPv4 and IPv6 ($((SECONDS - t0))s)"
}

# Home reaches nginx over both families; the CA host's connections time out.
check_geoblock() {
	local addr got rc=0
	for addr in "$WORLD_SRV4" "[$WORLD_SRV6]"; do
		got=$(world_http_status "$PREFIX" home "http://$addr/")
		[ "$got" != 000 ] || { diag "home -> $addr:80: no answer"; rc=1; }
	done
	for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
		got=$(world_tcp_probe "$PREFIX" ca "$addr" 80)
		[ "$got" = timeout ] || { diag "ca -> $addr:80: expected timeout, got $got"; rc=1; }
	done
	return "$rc"
}

setup_services() {
	world_geoblock "$PREFIX" || bail "could not load the geoblock into $PREFIX-srv"
	world_nginx "$PREFIX" "$T/www" || bail "nginx did not start"
	check "geoblock loaded: home reaches nginx, the CA host is dropped (IPv4, IPv6)" \
		check_geoblock
	world_pebble "$PREFIX" || bail "Pebble did not start"
	ok "Pebble answers on $ACME_DIR_URL"
}

# ---- one certbot run -------------------------------------------------------

# certbot_run RUN hooks|nohooks: certbot in srv with a fresh account and dirs
# under $T/RUN; its output in $T/RUN/out.log. Returns certbot's status.
certbot_run() {
	local run=$1 hooks=$2 dir=$T/$1
	local -a args
	mkdir -p "$dir"
	args=(certonly --webroot -w "$T/www" -d "$NAME" --preferred-challenges http
		--server "$ACME_DIR_URL" --config-dir "$dir/config" --work-dir "$dir/work"
		--logs-dir "$dir/logs" --register-unsafely-without-email --agree-tos
		--non-interactive)
	[ "$hooks" = hooks ] && args+=(--pre-hook "$PRE_HOOK" --post-hook "$POST_HOOK")
	world_exec "$PREFIX" srv env -u http_proxy -u https_proxy -u all_proxy \
		PATH="$T/bin:$PATH" ACMEGATE_CONFIG="${CONF_OVERRIDE:-$T/acmegate.conf}" \
		REQUESTS_CA_BUNDLE="$WD/tls-ca.pem" \
		timeout 90 certbot "${args[@]}" >"$dir/out.log" 2>&1 &
	# In the background so that a signal reaches our trap at once.
	wait "$!"
}

certbot_diag() {
	local dir=$T/$1
	world_tail "$dir/out.log" 15
	if [ -r "$dir/logs/letsencrypt.log" ]; then
		diag "--- hook and error lines of $dir/logs/letsencrypt.log"
		grep -E "Hook|hook command|urn:ietf|detail|Error|error" "$dir/logs/letsencrypt.log" |
			tail -n 15 | sed 's/^/#   /'
	fi
	world_tail "$WD/pebble.log" 10
	world_tail "$WD/nginx-access.log" 5
	diag "--- acmegate's state dir: $(find "$T/state" -mindepth 1 -printf '%P ' 2>/dev/null)"
}

ruleset() { world_exec "$PREFIX" srv nft list ruleset; }

cert_issued() {
	local pem=$T/$1/config/live/$NAME/fullchain.pem
	[ -s "$pem" ] || { diag "no $pem"; return 1; }
	openssl x509 -in "$pem" -noout -ext subjectAltName | grep -q "DNS:$NAME" ||
		{ diag "certificate lacks DNS:$NAME"; return 1; }
	openssl x509 -in "$pem" -noout -issuer | grep -q "Pebble Intermediate CA" ||
		{ diag "certificate not issued by Pebble"; return 1; }
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

same_ruleset() {
	local before=$1 after=$2
	cmp -s "$before" "$after" && return 0
	diag "ruleset differs (diff before after):"
	diff "$before" "$after" | sed 's/^/#   /'
	return 1
}

access_lines() { wc -l <"$WD/nginx-access.log"; }

# ---- the scenarios ---------------------------------------------------------

# Plain certbot under the geoblock: Pebble's connection to port 80 times out.
run_without_hooks() {
	local run=plain4 t0=$SECONDS
	world_dns "$PREFIX" "$NAME" 4 || bail "could not set DNS for $NAME"
	if certbot_run "$run" nohooks; then
		not_ok "without hooks, IPv4: validation fails under the geoblock"
		certbot_diag "$run"
	elif [ -e "$T/$run/config/live/$NAME" ]; then
		not_ok "without hooks, IPv4: validation fails (yet a certificate exists)"
	elif ! grep -q 'Type: *connection' "$T/$run/out.log"; then
		not_ok "without hooks, IPv4: validation fails with a connection problem"
		certbot_diag "$run"
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
	[ "$({ wc -l <"$T/state/exposure.log"; } 2>/dev/null || echo 0)" -gt "$1" ] || return 0
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
	ruleset >"$before"
	since=$(access_lines)
	local lines t0ms
	lines=$({ wc -l <"$T/state/exposure.log"; } 2>/dev/null || echo 0)
	t0ms=$(exposure_now_ms)
	if certbot_run "$run" hooks && cert_issued "$run"; then
		ok "with hooks, $label: certificate issued ($((SECONDS - t0))s)"
	else
		not_ok "with hooks, $label: certificate issued"
		certbot_diag "$run"
	fi
	report_exposure "$lines" "$(($(exposure_now_ms) - t0ms))"
	check "$label: Pebble fetched the challenge from $ca_addr" challenge_from "$since" "$ca_addr"
	ruleset >"$after"
	check "$label: nft ruleset after the run equals the one before" same_ruleset "$before" "$after"
}

# The pre-hook fails (a broken config): certbot goes on, and its output must show why and
# what it costs.
run_hook_failure() {
	local run=hookfail before after
	world_dns "$PREFIX" "$NAME" 4 || bail "could not set DNS for $NAME"
	printf '[gate]\nstate_dir = %s/state\nttl = forever\n' "$T" >"$T/broken.conf"
	ruleset >"$T/$run.before"
	CONF_OVERRIDE="$T/broken.conf" certbot_run "$run" hooks
	if grep -q "validation window did NOT open" "$T/$run/out.log" &&
		grep -q "broken.conf:3: bad value 'forever' for key 'ttl'" "$T/$run/out.log"; then
		ok "a failing pre-hook's message and reason show in certbot's output"
	else
		not_ok "a failing pre-hook's message and reason show in certbot's output"
		certbot_diag "$run"
	fi
	ruleset >"$T/$run.after"
	check "a failing pre-hook opens nothing" same_ruleset "$T/$run.before" "$T/$run.after"
}

main() {
	local t0=$SECONDS
	preconditions
	trap cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
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
	[ "$testno" = "$PLAN" ] || diag "ran $testno tests, planned $PLAN"
	diag "total $((SECONDS - t0))s, $failed failed"
	[ "$failed" = 0 ] && [ "$testno" = "$PLAN" ]
}

main "$@"
