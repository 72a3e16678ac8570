#!/bin/bash
# tests/e2e/uacme.t: Debian's uacme gets certificates from Pebble for a geoblocked server
# through acmegate's uacme hook (hooks/uacme/hook), one window per challenge, opened on
# `begin` and closed on `done`: http-01 for two names, the hook writing each key
# authorization into nginx's webroot (IPv4); then tls-alpn-01 with ualpn answering on 443,
# the hook handing it the authorization through ualpn's client mode (IPv6). The hook
# declines what it cannot serve, so uacme picks the type the test sets up whatever order
# Pebble offers them in. Needs root: a private simulated Internet of network namespaces
# (tests/lib/world.sh); never the host's network or ruleset. TAP; skips when not root.
#
# Each issuance: the certificate, the window closed afterwards, `nft list ruleset` in srv as
# before, the exposure from acmegate's exposure.log (printed, and recorded for
# bench/exposure), and the windows open no longer than the validations, as uacme saw them,
# plus a few seconds. While a window is open, the CA host reaches exactly the token's path
# (http-01), or port 443 and not 80 (tls-alpn-01). Also: a window that cannot open makes
# the hook decline, so uacme stops before the CA validates; a challenge the CA finds invalid
# ends in `failed`, and the window closes all the same. uacme trusts only the system's CA
# file: it runs in a mount namespace of its own in which Pebble's test CA is bound over it.
#
# Run:   sudo tests/run tests/e2e/uacme.t     (about 15 seconds)
# Env:   ACMEGATE_BIN, E2E_KEEP=1, E2E_SLACK_S: see tests/lib/issuance.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/issuance.sh
. "$repo/tests/lib/issuance.sh"

HOOK=$repo/hooks/uacme/hook
SYSTEM_CA=/etc/ssl/certs/ca-certificates.crt
NAMES="www.example.test mail.example.test"
PREFIX=ua$$
ISS_NAME=uacme
PLAN=21

# uacme_exec ENV... -- UACME_ARGS: uacme in srv, in a private mount namespace where the
# system CA file is Pebble's test CA.
uacme_exec() {
	local -a envs
	mapfile -t envs < <(iss_client_env)
	envs+=(UALPN_SOCKET="$T/ualpn.sock")
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
	world_exec "$PREFIX" srv env "${envs[@]}" \
		unshare -m --propagation private sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' \
		"$WD/tls-ca.pem" "$SYSTEM_CA" timeout 90 uacme -v -a "$ACME_DIR_URL" -t EC "$@"
}

# The hook uacme runs: ours, and after an accepted `begin`, from the CA host, the probe of
# the token's path (http-01) or of the ports (tls-alpn-01: 443 answers, 80 stays dropped;
# the dropped SYN costs the window half a second of the exposure measured).
write_wrapper() {
	iss_write_probe
	cat >"$T/hook" <<EOF
#!/bin/bash
"$HOOK" "\$@" || exit
[ "\$1" = begin ] || exit 0
case "\$2" in
http-01) "$T/probe" "\$4" ;;
tls-alpn-01)
	for port in 443 80; do
		echo "\$port \$(ip netns exec $PREFIX-ca timeout 0.5 bash -c 'exec 3<>/dev/tcp/$WORLD_SRV6/\$0' \$port 2>/dev/null && echo open || echo closed)"
	done >>"$T/ports.out" ;;
esac
EOF
	chmod 755 "$T/hook"
}

ports_443_only() {
	local got
	got=$(tr '\n' ' ' <"$T/ports.out" 2>/dev/null)
	[ "$got" = "443 open 80 closed " ] || { diag "from the CA host while open: '$got'"; return 1; }
}

# uacme_new DIR: a new account in DIR (before the timed run, as a renewal finds it).
uacme_new() {
	uacme_exec -- -c "$1" -y new test@example.test >"$1.new.log" 2>&1 ||
		bail "uacme could not register an account in $1: $(tail -n 3 "$1.new.log")"
}

# uacme_issue DIR ENV... -- NAMES: one certificate with the account in DIR.
uacme_issue() {
	local dir=$1
	shift
	local -a envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	uacme_exec "${envs[@]}" -- -c "$dir" -h "$T/hook" issue "$@"
}

# ualpn in srv on port 443 (both families), its socket in $T for the hook's client mode.
start_ualpn() {
	world_spawn "$PREFIX" srv ualpn ualpn -vv -c 127.0.0.1@4443 -P 0 -s "$T/ualpn.sock" \
		-p "$T/ualpn.pid"
	world_wait_for 5 "ualpn's socket" test -S "$T/ualpn.sock" || {
		world_tail "$WD/ualpn.log"
		return 1
	}
}

# Which challenge types the hook accepted: TYPE's windows and nothing else.
accepted_only() {
	local log=$1 type=$2 got
	got=$(grep -o "opened [a-z0-9-]*" "$log" | sort -u | tr '\n' ' ')
	[ "$got" = "opened $type " ] || { diag "acmegate opened: '$got', want only $type"; return 1; }
}

# A window that cannot open (a broken config): the hook declines every challenge, so uacme
# gives up before the CA validates anything, and the ruleset stays as it was.
broken_open() {
	local peb0 rc
	printf '[gate]\nstate_dir = %s/state\nttl = forever\n' "$T" >"$T/broken.conf"
	e2e_ruleset >"$T/broken.before"
	uacme_new "$T/broken"
	peb0=$(e2e_lines "$WD/pebble.log")
	ISS_CONF=$T/broken.conf uacme_issue "$T/broken" \
		UACME_CHALLENGE_PATH="$T/www/.well-known/acme-challenge" -- "${NAMES%% *}" >"$T/broken.log" 2>&1
	rc=$?
	e2e_ruleset >"$T/broken.after"
	if [ "$rc" != 0 ] && grep -q "validation window did NOT open" "$T/broken.log" &&
		! tail -n "+$((peb0 + 1))" "$WD/pebble.log" | grep -q "Pulled a task"; then
		ok "a window that cannot open: the hook declines, uacme stops before the CA validates"
	else
		not_ok "a window that cannot open: the hook declines, uacme stops before the CA validates (exit $rc)"
		world_tail "$T/broken.log" 15
	fi
	check "a window that cannot open leaves the ruleset as it was" \
		e2e_same_ruleset "$T/broken.before" "$T/broken.after"
}

# A challenge the CA finds invalid (the key authorization written where nginx does not
# serve it; ualpn out of reach, so http-01 is the only type taken): uacme calls `failed`,
# and the hook closes the window all the same.
invalid_challenge() {
	local exp0 rc
	mkdir -p "$T/elsewhere"
	uacme_new "$T/invalid"
	e2e_ruleset >"$T/invalid.before"
	exp0=$(e2e_exposure_lines)
	uacme_issue "$T/invalid" UACME_CHALLENGE_PATH="$T/elsewhere" UALPN_SOCKET="$T/none" -- \
		"${NAMES%% *}" \
		>"$T/invalid.log" 2>&1
	rc=$?
	e2e_ruleset >"$T/invalid.after"
	if [ "$rc" != 0 ] && grep -q "hook failed http-01" "$T/invalid.log" && iss_window_closed &&
		[ "$(e2e_exposure_lines)" -gt "$exp0" ]; then
		ok "an invalid http-01 challenge: uacme calls failed, the hook closes the window"
	else
		not_ok "an invalid http-01 challenge: uacme calls failed, the hook closes the window (exit $rc)"
		world_tail "$T/invalid.log" 15
	fi
	check "after the invalid challenge the ruleset is as it was" \
		e2e_same_ruleset "$T/invalid.before" "$T/invalid.after"
}

main() {
	local n
	iss_start uacme ualpn unshare
	[ -f "$SYSTEM_CA" ] || skip_all tool "no $SYSTEM_CA to stand in for"
	echo "1..$PLAN"
	iss_world
	write_wrapper
	for n in $NAMES; do world_dns "$PREFIX" "$n" 4 || bail "could not set DNS for $n"; done
	uacme_new "$T/http-01"
	# shellcheck disable=SC2086 # NAMES is a list
	iss_issue http-01 uacme "http-01 hook" yes "$T/http-01/${NAMES%% *}/cert.pem" "$NAMES" -- \
		uacme_issue "$T/http-01" UACME_CHALLENGE_PATH="$T/www/.well-known/acme-challenge" -- $NAMES
	check "http-01: the hook served http-01 and declined the rest" \
		accepted_only "$T/http-01.log" http-01
	check "http-01: while open, the CA host got the tokens' paths and no other path" \
		iss_probes_token_exact
	check "ualpn listens on 443 with its socket at $T/ualpn.sock" start_ualpn
	world_dns "$PREFIX" "${NAMES%% *}" 6 || bail "could not set DNS"
	uacme_new "$T/tls-alpn-01"
	iss_issue tls-alpn-01 uacme "tls-alpn-01 hook" yes "$T/tls-alpn-01/${NAMES%% *}/cert.pem" \
		"${NAMES%% *}" -- uacme_issue "$T/tls-alpn-01" -- "${NAMES%% *}"
	check "tls-alpn-01: the hook served tls-alpn-01 and declined the rest" \
		accepted_only "$T/tls-alpn-01.log" tls-alpn-01
	check "tls-alpn-01: while open, the CA host reached port 443 and not port 80" ports_443_only
	broken_open
	world_dns "$PREFIX" "${NAMES%% *}" 4 || bail "could not set DNS"
	invalid_challenge
	e2e_finish
}

main "$@"
