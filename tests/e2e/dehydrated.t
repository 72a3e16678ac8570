#!/bin/bash
# tests/e2e/dehydrated.t: Debian's dehydrated gets one certificate for two names from Pebble
# for a geoblocked server, http-01 through acmegate's dehydrated hook (hooks/dehydrated/hook):
# a token-exact window per challenge, opened on deploy_challenge and closed on
# clean_challenge. Once one call per challenge (HOOK_CHAIN=no, IPv4), once all at once
# (HOOK_CHAIN=yes, IPv6). Needs root: a private simulated Internet of network namespaces
# (tests/lib/world.sh); never the host's network or ruleset. TAP; skips when not root.
#
# Each issuance: the certificate, the window closed afterwards, `nft list ruleset` in srv as
# before, the exposure from acmegate's exposure.log (printed, and recorded for
# bench/exposure), and the window open no longer than the validation, as dehydrated saw it,
# plus a few seconds. While the window is open the CA host reaches exactly the challenges'
# paths (probed by a further hook chained through ACMEGATE_NEXT_HOOK). Also: unknown
# handlers exit 0; a window that cannot open stops dehydrated before the CA validates; when
# a deploy step fails after the window opened, exit_hook closes it.
#
# Run:   sudo tests/run tests/e2e/dehydrated.t     (about 30 seconds)
# Env:   ACMEGATE_BIN, E2E_KEEP=1, E2E_SLACK_S: see tests/lib/issuance.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/issuance.sh
. "$repo/tests/lib/issuance.sh"

HOOK=$repo/hooks/dehydrated/hook
NAMES="www.example.test mail.example.test"
PREFIX=dh$$
ISS_NAME=dehydrated
PLAN=21

# dh_config DIR CHAIN: dehydrated's config for one run; HOOK_CHAIN=CHAIN. The probe hook
# (below) is chained through ACMEGATE_NEXT_HOOK, so the test sees the open window.
dh_config() {
	local dir=$1 chain=$2
	mkdir -p "$dir"
	cat >"$dir/config" <<EOF
CA="$ACME_DIR_URL"
BASEDIR="$dir"
WELLKNOWN="$T/www/.well-known/acme-challenge"
CHALLENGETYPE=http-01
HOOK="$HOOK"
HOOK_CHAIN=$chain
KEY_ALGO=prime256v1
KEYSIZE=2048
export ACMEGATE_NEXT_HOOK="$T/next-hook"
EOF
}

# dehydrated in srv with the test's environment.
dh() {
	local -a envs
	mapfile -t envs < <(iss_client_env)
	world_exec "$PREFIX" srv env "${envs[@]}" timeout 90 dehydrated "$@"
}

# dh_register DIR: the account, before the timed run (as a renewal finds it).
dh_register() {
	dh --config "$1/config" --register --accept-terms >"$1.register.log" 2>&1 ||
		bail "dehydrated could not register in $1: $(tail -n 3 "$1.register.log")"
}

# dh_run DIR: one certificate for both names.
dh_run() {
	local dir=$1 n
	local -a d=()
	for n in $NAMES; do d+=(-d "$n"); done
	dh --config "$dir/config" --cron --force "${d[@]}"
}

# A further dehydrated hook, run by ours while the window is open: the probe (from the CA
# host, the deployed tokens' paths answer and no other path does), or a failure when
# $T/fail-deploy exists.
write_next_hook() {
	iss_write_probe
	cat >"$T/next-hook" <<EOF
#!/bin/bash
[ "\$1" = deploy_challenge ] || exit 0
[ -e "$T/fail-deploy" ] && { echo "next hook: failing on purpose" >&2; exit 1; }
shift
while [ \$# -ge 3 ]; do "$T/probe" "\$2"; shift 3; done
EOF
	chmod 755 "$T/next-hook"
}

# issue LABEL CHAIN FAMILY: one certificate for NAMES; seven TAP lines.
issue() {
	local label=$1 chain=$2 fam=$3 dir=$T/$1 n
	for n in $NAMES; do world_dns "$PREFIX" "$n" "$fam" || bail "could not set DNS for $n"; done
	dh_config "$dir" "$chain"
	dh_register "$dir"
	# shellcheck disable=SC2086 # NAMES is a list
	iss_issue "$label" dehydrated "http-01 hook" yes "$dir/certs/${NAMES%% *}/fullchain.pem" \
		"$NAMES" -- dh_run "$dir"
	check "$label: while open, the CA host got the tokens' paths and no other path" \
		iss_probes_token_exact
	check "$label: the hook ran once per challenge ($chain chain)" hook_calls "$label" "$chain"
}

# dehydrated printed one deploy line per challenge, or one for all.
hook_calls() {
	local want=2 got
	[ "$2" = yes ] && want=1
	got=$(grep -c "acmegate.*open" "$T/$1.log")
	[ "$got" -ge "$want" ] || { diag "saw $got acmegate open lines, want $want"; return 1; }
}

unknown_handler() {
	e2e_ruleset >"$T/unknown.before"
	world_exec "$PREFIX" srv env PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/path.conf" \
		"$HOOK" this_hookscript_is_broken__please_ignore_unknown_hooks a b >/dev/null 2>&1 ||
		{ diag "the hook failed an unknown handler"; return 1; }
	e2e_ruleset >"$T/unknown.after"
	e2e_same_ruleset "$T/unknown.before" "$T/unknown.after"
}

# A window that cannot open (a broken config) stops dehydrated: Pebble gets no challenge
# response, and the ruleset stays as it was.
broken_open() {
	local dir=$T/broken peb0 rc
	printf '[gate]\nstate_dir = %s/state\nttl = forever\n' "$T" >"$T/broken.conf"
	dh_config "$dir" no
	dh_register "$dir"
	e2e_ruleset >"$T/broken.before"
	peb0=$(e2e_lines "$WD/pebble.log")
	ISS_CONF=$T/broken.conf dh_run "$dir" >"$T/broken.log" 2>&1
	rc=$?
	e2e_ruleset >"$T/broken.after"
	if [ "$rc" != 0 ] && grep -q "validation window did NOT open" "$T/broken.log" &&
		! tail -n "+$((peb0 + 1))" "$WD/pebble.log" | grep -q "Pulled a task"; then
		ok "a window that cannot open stops dehydrated before the CA validates"
	else
		not_ok "a window that cannot open stops dehydrated before the CA validates (exit $rc)"
		world_tail "$T/broken.log" 15
	fi
	check "a window that cannot open leaves the ruleset as it was" \
		e2e_same_ruleset "$T/broken.before" "$T/broken.after"
}

# The window opened, then a later deploy step failed: dehydrated stops, and its exit_hook
# closes the window (the safety net).
failed_after_open() {
	local dir=$T/failing exp0 rc
	dh_config "$dir" no
	dh_register "$dir"
	e2e_ruleset >"$T/failing.before"
	exp0=$(e2e_exposure_lines)
	touch "$T/fail-deploy"
	dh_run "$dir" >"$T/failing.log" 2>&1
	rc=$?
	rm -f "$T/fail-deploy"
	e2e_ruleset >"$T/failing.after"
	if [ "$rc" != 0 ] && grep -q "failing on purpose" "$T/failing.log" && iss_window_closed &&
		[ "$(e2e_exposure_lines)" -gt "$exp0" ]; then
		ok "a deploy that fails after the window opened: dehydrated stops, exit_hook closes it"
	else
		not_ok "a deploy that fails after the window opened: dehydrated stops, exit_hook closes it (exit $rc)"
		world_tail "$T/failing.log" 15
	fi
	check "after the failed deploy the ruleset is as it was" \
		e2e_same_ruleset "$T/failing.before" "$T/failing.after"
}

main() {
	iss_start dehydrated
	echo "1..$PLAN"
	iss_world
	write_next_hook
	check "an unknown handler exits 0 and changes nothing" unknown_handler
	issue chain-no no 4
	issue chain-yes yes 6
	broken_open
	failed_after_open
	e2e_finish
}

main "$@"
