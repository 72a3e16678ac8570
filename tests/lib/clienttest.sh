# shellcheck shell=bash
# tests/lib/clienttest.sh: what the end-to-end tests of ACME clients share: TAP lines, the
# test's private directory and acmegate config, the world (tests/lib/world.sh) with its
# geoblock and Pebble, a certbot run in srv, the checks every issuance ends with (certificate,
# window closed, ruleset as before) and the exposure measurement (tests/lib/exposure.sh).
#
# Source it from a bash test after setting PREFIX (unique, with $$) and PLAN; needs root.
#   ok / not_ok / check DESC CMD... / diag / bail / skip_all KIND MSG     TAP
#   ct_preconditions TOOL...     root, the tools, the acmegate binary
#   ct_start                     traps, T (private dir), the plan line, the world up
#   ct_world_services [nginx]    geoblock in srv (+ nginx on T/www), Pebble in ca
#   ct_certbot RUN ARGS...       certbot in srv against Pebble, fresh dirs under T/RUN
#   ct_issued RUN NAME...        the RUN's certificate is Pebble's and names every NAME
#   ct_after RUN BEFORE CLIENT MODE T0   window closed, ruleset = BEFORE, exposure recorded
#   ct_hooktimes                 T/bin/timed LABEL CMD...: runs CMD, logs "LABEL start|end MS"
#   ct_finish                    the summary; its status is the test's
# shellcheck disable=SC2153 # PREFIX and PLAN come from the test
# Globals: PREFIX PLAN T WD ACMEGATE_BIN OPEN_MS (the last window's open time, ms).

here=${here:-$(cd "$(dirname "$0")" && pwd)}
repo=${repo:-$(cd "$here/../.." && pwd)}
# shellcheck source-path=SCRIPTDIR source=world.sh
. "$repo/tests/lib/world.sh"
# shellcheck source-path=SCRIPTDIR source=exposure.sh
. "$repo/tests/lib/exposure.sh"

ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
ACME_DIR_URL="https://$WORLD_CA4:$WORLD_ACME_PORT/dir"
T=""
WD=""
OPEN_MS=""
testno=0
failed=0
ct_t0=$SECONDS

ok() { testno=$((testno + 1)); printf 'ok %d - %s\n' "$testno" "$1"; }
not_ok() {
	testno=$((testno + 1))
	failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$testno" "$1"
}
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
skip_all() {
	# Under CI a missing tool is a broken setup, not a reason to skip.
	if [ "${CI:-}" = true ] && [ "$1" != root ]; then bail "$2"; fi
	printf '1..0 # SKIP %s\n' "$2"
	exit 0
}

ct_preconditions() {
	local tool
	[ "$(id -u)" = 0 ] || skip_all root "needs root (network namespaces, nftables)"
	for tool in ip nft pebble pebble-challtestsrv openssl curl timeout python3 "$@"; do
		command -v "$tool" >/dev/null || skip_all tool "$tool not installed"
	done
	[ -x "$ACMEGATE_BIN" ] ||
		bail "acmegate binary not found at $ACMEGATE_BIN (build it, or set ACMEGATE_BIN)"
}

ct_cleanup() {
	world_down "$PREFIX"
	if [ -n "$T" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then diag "kept $T"; else rm -rf "$T"; fi
	fi
}

# The hooks find `acmegate` in PATH: T/bin links the binary under test. T is 0755 so that an
# unprivileged user can run hooks from it; the state dir stays private.
ct_make_env() {
	T=$(mktemp -d /tmp/acmegate-e2e.XXXXXX) || bail "mktemp failed"
	chmod 755 "$T"
	mkdir -p "$T/bin" "$T/www" || bail "cannot populate $T"
	mkdir -m 700 "$T/state" || bail "cannot create $T/state"
	ln -s "$ACMEGATE_BIN" "$T/bin/acmegate"
	cat >"$T/acmegate.conf" <<EOF
; acmegate config for $(basename "$0")
[gate]
state_dir = $T/state
ttl = 600
http01_mode = path
EOF
	ct_hooktimes
}

ct_start() {
	local t0=$SECONDS
	trap ct_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ct_make_env
	echo "1..$PLAN"
	world_up "$PREFIX" || bail "could not build the test world"
	WD=$(world_dir "$PREFIX")
	ok "world up: home, ca and srv routed through rt, IPv4 and IPv6 ($((SECONDS - t0))s)"
}

# The CA host's connections to srv's port 80 time out, both families.
ct_ca_dropped() {
	local addr got rc=0
	for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
		got=$(world_tcp_probe "$PREFIX" ca "$addr" "${1:-80}")
		[ "$got" = timeout ] || { diag "ca -> $addr:${1:-80}: expected timeout, got $got"; rc=1; }
	done
	return "$rc"
}

ct_world_services() {
	world_geoblock "$PREFIX" || bail "could not load the geoblock into $PREFIX-srv"
	if [ "${1:-}" = nginx ]; then
		world_nginx "$PREFIX" "$T/www" || bail "nginx did not start"
	fi
	check "geoblock loaded: the CA host is dropped (IPv4, IPv6)" ct_ca_dropped
	world_pebble "$PREFIX" || bail "Pebble did not start"
	# Readable by any user: the world's own dir is private.
	install -m 0644 "$WD/tls-ca.pem" "$T/tls-ca.pem" || bail "cannot copy Pebble's CA"
	ok "Pebble answers on $ACME_DIR_URL"
}

ct_ruleset() { world_exec "$PREFIX" srv nft list ruleset; }

# ct_certbot RUN ARGS...: certbot in srv with a fresh account and dirs under T/RUN, output in
# T/RUN/out.log; the environment gets CT_ENV's words (VAR=VALUE), and CT_AS's words come
# first (e.g. setpriv to another user). Returns certbot's status; CT_RUN_MS is its run time.
ct_certbot() {
	local run=$1 dir=$T/$1 t0
	shift
	mkdir -p "$dir"
	t0=$(exposure_now_ms)
	world_exec "$PREFIX" srv "${CT_AS[@]}" env -u http_proxy -u https_proxy -u all_proxy \
		PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/acmegate.conf" \
		REQUESTS_CA_BUNDLE="$T/tls-ca.pem" "${CT_ENV[@]}" \
		timeout 100 certbot certonly "$@" \
		--server "$ACME_DIR_URL" --config-dir "$dir/config" --work-dir "$dir/work" \
		--logs-dir "$dir/logs" --register-unsafely-without-email --agree-tos \
		--non-interactive >"$dir/out.log" 2>&1 &
	# In the background so that a signal reaches our trap at once.
	wait "$!"
	local rc=$?
	CT_RUN_MS=$(($(exposure_now_ms) - t0))
	return "$rc"
}
CT_ENV=()
CT_AS=()

ct_certbot_diag() {
	local dir=$T/$1
	world_tail "$dir/out.log" 15
	if [ -r "$dir/logs/letsencrypt.log" ]; then
		diag "--- hook and error lines of $dir/logs/letsencrypt.log"
		grep -E "Hook|hook command|urn:ietf|detail|Error|error" "$dir/logs/letsencrypt.log" |
			tail -n 15 | sed 's/^/#   /'
	fi
	world_tail "$WD/pebble.log" 10
	diag "--- acmegate's state dir: $(find "$T/state" -mindepth 1 -printf '%P ' 2>/dev/null)"
}

# ct_issued_pem PEM NAME...: Pebble issued PEM for every NAME.
ct_issued_pem() {
	local pem=$1 name san
	shift
	[ -s "$pem" ] || { diag "no $pem"; return 1; }
	openssl x509 -in "$pem" -noout -issuer | grep -q "Pebble Intermediate CA" ||
		{ diag "$pem not issued by Pebble"; return 1; }
	san=$(openssl x509 -in "$pem" -noout -ext subjectAltName)
	for name in "$@"; do
		printf '%s\n' "$san" | grep -q "DNS:$name\(,\|$\)" ||
			{ diag "$pem lacks DNS:$name ($san)"; return 1; }
	done
}

ct_issued() {
	local run=$1
	ct_issued_pem "$T/$run/config/live/$2/fullchain.pem" "${@:2}"
}

same_ruleset() {
	cmp -s "$1" "$2" && return 0
	diag "ruleset differs (diff before after):"
	diff "$1" "$2" | sed 's/^/#   /'
	return 1
}

# No lease left, no acmegate rule left in srv.
ct_window_closed() {
	local st
	st=$(world_exec "$PREFIX" srv "$ACMEGATE_BIN" -c "$T/acmegate.conf" status --json) ||
		{ diag "acmegate status failed"; return 1; }
	printf '%s' "$st" | python3 -c \
		'import json, sys; d = json.load(sys.stdin); sys.exit(bool(d["leases"] or d["rules"]))' &&
		! ct_ruleset | grep -q 'acmegate' && return 0
	diag "acmegate status after the run: $st"
	return 1
}

# Lines in the exposure log so far: each closed window adds one.
ct_exposure_lines() { { wc -l <"$T/state/exposure.log"; } 2>/dev/null || echo 0; }

# ct_exposure CLIENT MODE RUN_MS LINES_BEFORE: OPEN_MS from the window that closed since, printed
# and recorded for bench/exposure.
ct_exposure() {
	local client=$1 mode=$2 run_ms=$3 before=$4 now
	now=$(ct_exposure_lines)
	OPEN_MS=$(exposure_last_open_ms "$T/state")
	if [ "$now" -le "$before" ] || [ -z "$OPEN_MS" ]; then
		diag "exposure.log got no line for this window ($before -> $now lines)"
		OPEN_MS=""
		return 1
	fi
	diag "exposure: $client ($mode): window open $OPEN_MS ms of a $run_ms ms run;" \
		"$(tail -n 1 "$T/state/exposure.log" | python3 -c \
			'import json, sys; print(json.load(sys.stdin).get("connections", "?"))') connections"
	exposure_record "$client" "$mode" "$OPEN_MS" "$run_ms"
}

# ct_after RUN BEFORE CLIENT MODE LINES: the checks after one issuance (three TAP lines).
ct_after() {
	local run=$1 before=$2 client=$3 mode=$4 lines=$5
	ct_ruleset >"$T/$run.ruleset.after"
	check "$run: window closed afterwards (no lease, no acmegate rule)" ct_window_closed
	check "$run: nft ruleset after the run equals the one before" \
		same_ruleset "$before" "$T/$run.ruleset.after"
	check "$run: exposure measured from acmegate's exposure.log" \
		ct_exposure "$client" "$mode" "$CT_RUN_MS" "$lines"
}

# T/bin/timed LABEL CMD...: CMD's start and end, in ms, appended to T/hooktimes.
ct_hooktimes() {
	cat >"$T/bin/timed" <<'EOF'
#!/bin/bash
label=$1
shift
now() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }
echo "$label start $(now)" >>"$(dirname "$0")/../hooktimes"
"$@"
rc=$?
echo "$label end $(now)" >>"$(dirname "$0")/../hooktimes"
exit "$rc"
EOF
	chmod 755 "$T/bin/timed"
	: >"$T/hooktimes"
	chmod 666 "$T/hooktimes"
}

ct_finish() {
	[ "$testno" = "$PLAN" ] || diag "ran $testno tests, planned $PLAN"
	diag "total $((SECONDS - ct_t0))s, $failed failed"
	[ "$failed" = 0 ] && [ "$testno" = "$PLAN" ]
}
