# shellcheck shell=bash
# tests/lib/e2e.sh: what every end-to-end test of an ACME client shares, whichever layer it
# uses on top (tests/lib/clienttest.sh for certbot and acme.sh, tests/lib/issuance.sh for
# dehydrated, lego and uacme; certbot-webroot.t uses it directly): TAP lines, the skip and
# preconditions, cleanup and traps, the test's private dir T, the world (tests/lib/world.sh)
# with its geoblock checks and Pebble, the environment a client runs with, the ruleset
# comparison, the certificate check, the summary, and the exposure helpers
# (tests/lib/exposure.sh).
#
# Source it after setting PREFIX (the world's prefix, unique with $$); needs root.
#   ok / not_ok / check DESC CMD... / diag / bail / skip_all KIND MSG     TAP
#   e2e_preconditions TOOL...      root and every TOOL (else skip the file)
#   e2e_need_bin                   the acmegate binary (else bail out)
#   e2e_traps                      cleanup on exit (world down, T removed unless E2E_KEEP=1)
#   e2e_make_dirs LABEL [WWWSUB]   T=/tmp/acmegate-LABEL.XXXXXX with bin (acmegate linked),
#                                  www (and www/WWWSUB) and a private state dir
#   e2e_write_conf FILE MODE WHAT  acmegate's config (state in T/state, ttl 600, http01_mode)
#   e2e_world_up                   the world up (or bail out), WD its dir
#   e2e_pebble                     Pebble up (or bail out)
#   e2e_ca_dropped PORT...         the CA host's connections to srv's PORTs time out (both families)
#   e2e_home_reaches_nginx         home gets an HTTP answer from srv (both families)
#   e2e_client_env CONF            `env` arguments: no proxies, T/bin in PATH, ACMEGATE_CONFIG=CONF
#   e2e_ruleset / e2e_same_ruleset BEFORE AFTER   srv's nft ruleset, and comparing two
#   e2e_cert_ok PEM NAME...        Pebble issued PEM for every NAME
#   e2e_lines FILE                 FILE's line count (0 when there is none)
#   e2e_exposure_lines             T/state/exposure.log's line count: one a closed window
#   e2e_finish                     the summary; its status is the test's
# shellcheck disable=SC2153 # PREFIX and PLAN come from the test
# Globals: PREFIX PLAN T WD ACMEGATE_BIN ACME_DIR_URL testno failed.

# shellcheck source-path=SCRIPTDIR source=world.sh
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
# shellcheck source-path=SCRIPTDIR source=exposure.sh
. "$(dirname "${BASH_SOURCE[0]}")/exposure.sh"

ACMEGATE_BIN=${ACMEGATE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/acmegate}
# shellcheck disable=SC2034 # for the tests and the layers
ACME_DIR_URL="https://$WORLD_CA4:$WORLD_ACME_PORT/dir"
T=""
WD=""
testno=0
failed=0
E2E_T0=$SECONDS

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
skip_all() {
	# Under CI a missing tool is a broken setup, not a reason to skip.
	if [ "${CI:-}" = true ] && [ "$1" != root ]; then bail "$2"; fi
	printf '1..0 # SKIP %s\n' "$2"
	exit 0
}

e2e_preconditions() {
	local tool
	[ "$(id -u)" = 0 ] || skip_all root "needs root (network namespaces, nftables)"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || skip_all tool "$tool not installed"
	done
}

e2e_need_bin() {
	[ -x "$ACMEGATE_BIN" ] ||
		bail "acmegate binary not found at $ACMEGATE_BIN (build it, or set ACMEGATE_BIN)"
}

e2e_cleanup() {
	world_down "$PREFIX"
	if [ -n "$T" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then diag "kept $T"; else rm -rf "$T"; fi
	fi
}

e2e_traps() {
	trap e2e_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# The hooks find `acmegate` in PATH: T/bin holds a link to the binary under test, whatever
# its file name.
e2e_make_dirs() {
	T=$(mktemp -d "/tmp/acmegate-$1.XXXXXX") || bail "mktemp failed"
	mkdir -p "$T/bin" "$T/www${2:+/$2}" || bail "cannot populate $T"
	mkdir -m 700 "$T/state" || bail "cannot create $T/state"
	ln -s "$ACMEGATE_BIN" "$T/bin/acmegate"
}

# e2e_write_conf FILE MODE WHAT: a config for WHAT (named in its first comment line).
e2e_write_conf() {
	printf '; acmegate config for %s\n[gate]\nstate_dir = %s/state\nttl = 600\nhttp01_mode = %s\n' \
		"$3" "$T" "$2" >"$1"
}

e2e_world_up() {
	world_up "$PREFIX" || bail "could not build the test world"
	# shellcheck disable=SC2034 # for the tests and the layers
	WD=$(world_dir "$PREFIX")
}

e2e_pebble() { world_pebble "$PREFIX" || bail "Pebble did not start"; }

e2e_ca_dropped() {
	local addr got port rc=0
	for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
		for port in "$@"; do
			got=$(world_tcp_probe "$PREFIX" ca "$addr" "$port")
			[ "$got" = timeout ] || { diag "ca -> $addr:$port: expected timeout, got $got"; rc=1; }
		done
	done
	return "$rc"
}

e2e_home_reaches_nginx() {
	local addr got rc=0
	for addr in "$WORLD_SRV4" "[$WORLD_SRV6]"; do
		got=$(world_http_status "$PREFIX" home "http://$addr/")
		[ "$got" != 000 ] || { diag "home -> $addr:80: no answer"; rc=1; }
	done
	return "$rc"
}

# e2e_client_env CONF: one `env` argument a line (read them with mapfile).
e2e_client_env() {
	printf '%s\n' -u http_proxy -u https_proxy -u all_proxy PATH="$T/bin:$PATH" \
		ACMEGATE_CONFIG="$1"
}

e2e_ruleset() { world_exec "$PREFIX" srv nft list ruleset; }

e2e_same_ruleset() {
	cmp -s "$1" "$2" && return 0
	diag "ruleset differs (diff before after):"
	diff "$1" "$2" | sed 's/^/#   /'
	return 1
}

e2e_cert_ok() {
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

e2e_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# Lines in the exposure log so far: each closed window adds one.
e2e_exposure_lines() { e2e_lines "$T/state/exposure.log"; }

e2e_finish() {
	[ "$testno" = "$PLAN" ] || diag "ran $testno tests, planned $PLAN"
	diag "total $((SECONDS - E2E_T0))s, $failed failed"
	[ "$failed" = 0 ] && [ "$testno" = "$PLAN" ]
}
