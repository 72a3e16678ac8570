# shellcheck shell=bash
# tests/lib/issuance.sh: the layer of the end-to-end tests of dehydrated.t, lego.t, lego-dns.t
# and uacme.t over tests/lib/e2e.sh (TAP lines, skip, cleanup, the world and Pebble, the
# client environment, the ruleset and certificate checks, e2e_finish): acmegate's configs in
# a temp dir, the world with its geoblock and nginx, and the checks every issuance gets: the
# certificate, the window closed, the ruleset as before, and the exposure measured from
# acmegate's exposure.log and recorded for bench/exposure (tests/lib/exposure.sh).
#
# shellcheck disable=SC2153 # PREFIX, ISS_NAME and repo come from the test file
# Set PREFIX (world prefix), ISS_NAME (a label for the temp dir) and repo before iss_start.
#   iss_start TOOLS...         root and tools (else skip), traps, the temp dir $T with acmegate's
#                              configs (path.conf, port.conf) and a bin dir; prints nothing
#   iss_world                  world, geoblock, nginx on $T/www, Pebble (two TAP lines)
#   iss_client_env             the environment a client runs with in srv (`env` arguments);
#                              ISS_CONF picks another acmegate config
#   iss_issue LABEL CLIENT MODE PERCHALLENGE PEM NAMES -- CMD...
#                              one issuance and its checks (four TAP lines, five per-challenge)
#   iss_write_probe, iss_probes_token_exact   look at an open window from the CA host
#   ok / not_ok / check / diag / bail / skip_all / e2e_*   see tests/lib/e2e.sh
# Env: ACMEGATE_BIN (default build/acmegate), E2E_KEEP=1 keeps the temp dir (WORLD_KEEP=1 the
#      world's logs), E2E_SLACK_S (5): seconds a per-challenge window may stay open past the
#      validation as the client saw it.

# shellcheck source-path=SCRIPTDIR source=e2e.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e.sh"

# acmegate.conf is path mode, port.conf the whole port (standalone clients).
iss_make_env() {
	local mode
	e2e_make_dirs "$ISS_NAME" .well-known/acme-challenge
	for mode in path port; do
		e2e_write_conf "$T/$mode.conf" "$mode" "tests/e2e/$ISS_NAME.t"
	done
}

# Home reaches nginx over both families; the CA host's connections to 80 and 443 time out.
iss_check_geoblock() {
	local rc=0
	e2e_home_reaches_nginx || rc=1
	e2e_ca_dropped 80 443 || rc=1
	return "$rc"
}

# iss_start TOOLS...: root, the tools (or skip the file), traps, the temp dir.
iss_start() {
	e2e_preconditions ip nft nginx pebble pebble-challtestsrv openssl curl timeout python3 "$@"
	e2e_need_bin
	e2e_traps
	iss_make_env
}

# iss_world: the world, the geoblock, nginx on $T/www and Pebble; two TAP lines.
iss_world() {
	local t0=$SECONDS
	e2e_world_up
	world_geoblock "$PREFIX" || bail "could not load the geoblock into $PREFIX-srv"
	world_nginx "$PREFIX" "$T/www" || bail "nginx did not start"
	e2e_pebble
	ok "world up, Pebble answers on $ACME_DIR_URL ($((SECONDS - t0))s)"
	check "geoblock loaded: home reaches nginx, the CA host is dropped (80, 443, IPv4, IPv6)" \
		iss_check_geoblock
}

# The environment every client runs with: no proxies, acmegate in PATH, acmegate's config,
# and Pebble's API CA for curl (dehydrated) and lego.
iss_client_env() {
	e2e_client_env "${ISS_CONF:-$T/path.conf}"
	printf '%s\n' CURL_CA_BUNDLE="$WD/tls-ca.pem" LEGO_CA_CERTIFICATES="$WD/tls-ca.pem" \
		SSL_CERT_FILE="$WD/tls-ca.pem"
}

# No lease is left and no acmegate rule is in the kernel.
iss_window_closed() {
	local leases
	leases=$(world_exec "$PREFIX" srv env ACMEGATE_CONFIG="$T/path.conf" "$ACMEGATE_BIN" status --json |
		python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d.get("leases", [])) + len(d.get("rules", [])))')
	[ "$leases" = 0 ] && return 0
	diag "acmegate status still shows $leases leases and rules:"
	world_exec "$PREFIX" srv env ACMEGATE_CONFIG="$T/path.conf" "$ACMEGATE_BIN" status | sed 's/^/#   /'
	return 1
}

# iss_exposure_since N: the windows that closed after line N of exposure.log, as
# "COUNT SUM_OPEN_MS" (0 0 when none).
iss_exposure_since() {
	tail -n "+$(($1 + 1))" "$T/state/exposure.log" 2>/dev/null | python3 -c '
import json, sys
ms = [json.loads(l)["open_ms"] for l in sys.stdin if l.strip()]
print(len(ms), sum(ms))'
}

# iss_validation_ms SINCE: how long validation took as the client saw it, from Pebble's log
# after line SINCE: from the client's first "ready" (POST to a challenge) to its first look
# at an authorization or challenge after Pebble last found one valid or invalid. That
# includes the client's own polling interval (lego backs off to several seconds), which no
# hook can shorten. Pebble's log has whole seconds, so this rounds up by one second. When
# Pebble logs the last poll before its verdict, the verdict's time ends it.
iss_validation_ms() {
	tail -n "+$(($1 + 1))" "$WD/pebble.log" | python3 -c '
import datetime, re, sys
first = done = learnt = None
for line in sys.stdin:
    m = re.match(r"Pebble (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) (.*)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S")
    what = m.group(2)
    poll = re.match(r"POST /(authZ|chalZ)/", what)
    if first is None and what.startswith("POST /chalZ/"):
        first = t
    if re.search(r"set (VALID|INVALID) by completed challenge", what):
        done, learnt = t, None
    elif poll and done is not None and learnt is None:
        learnt = t
# Pebble may log the last poll before its own "set VALID" line: then that line ends it
end = learnt or done
if first is None or end is None:
    sys.exit(1)
print(int((end - first).total_seconds() * 1000) + 1000)'
}

# iss_write_probe: $T/probe TOKEN..., a program for hooks to run while a window is open. From
# the CA host, over both families, it asks nginx for each TOKEN's challenge path and for
# another token's, and appends "ADDR TOKEN good=STATUS bad=STATUS" to $T/probe.out.
iss_write_probe() {
	cat >"$T/probe" <<EOF
#!/bin/bash
get() {
	ip netns exec $PREFIX-ca curl -s -o /dev/null -m 3 -w '%{http_code}' \\
		"http://\$1/.well-known/acme-challenge/\$2"
}
for tok in "\$@"; do
	for addr in $WORLD_SRV4 [$WORLD_SRV6]; do
		echo "\$addr \$tok good=\$(get "\$addr" "\$tok") bad=\$(get "\$addr" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
	done
done >>"$T/probe.out"
EOF
	chmod 755 "$T/probe"
	: >"$T/probe.out"
}

# iss_probes_token_exact: every probe of a deployed token got 200, every other path got no
# answer from nginx (the gate reset it); and there were probes.
iss_probes_token_exact() {
	local lines
	lines=$(cat "$T/probe.out" 2>/dev/null)
	: >"$T/probe.out"
	[ -n "$lines" ] || { diag "the probe did not run"; return 1; }
	if printf '%s\n' "$lines" | grep -qv ' good=200 bad=000$'; then
		diag "from the CA host while the window was open (want good=200 bad=000):"
		printf '%s\n' "$lines" | sed 's/^/#   /'
		return 1
	fi
}

# iss_issue LABEL CLIENT MODE PERCHALLENGE PEM NAMES -- CMD...: runs CMD (a client run in
# srv, its output in $T/LABEL.log) and checks: issued, closed, ruleset as before, exposure
# measured (and, when PERCHALLENGE is yes, no longer than the validation plus E2E_SLACK_S).
# NAMES is a space-separated list.
iss_issue() {
	local label=$1 client=$2 mode=$3 perch=$4 pem=$5 names=$6 t0 t1 rc
	local exp0 peb0 count sum valid slack=${E2E_SLACK_S:-5}
	shift 7
	e2e_ruleset >"$T/$label.before"
	exp0=$(e2e_exposure_lines)
	peb0=$(e2e_lines "$WD/pebble.log")
	t0=$(exposure_now_ms)
	"$@" >"$T/$label.log" 2>&1 &
	wait "$!"
	rc=$?
	t1=$(exposure_now_ms)
	# shellcheck disable=SC2086 # NAMES is a list
	if [ "$rc" = 0 ] && e2e_cert_ok "$pem" $names; then
		ok "$label: certificate for $names issued through the geoblock ($(((t1 - t0) / 1000))s)"
	else
		not_ok "$label: certificate for $names issued through the geoblock (exit $rc)"
		world_tail "$T/$label.log" 25
		world_tail "$WD/pebble.log" 10
		world_tail "$WD/nginx-access.log" 5
	fi
	check "$label: the window is closed afterwards" iss_window_closed
	e2e_ruleset >"$T/$label.after"
	check "$label: nft ruleset after the run equals the one before" \
		e2e_same_ruleset "$T/$label.before" "$T/$label.after"
	read -r count sum < <(iss_exposure_since "$exp0")
	if [ "${count:-0}" -gt 0 ]; then
		ok "$label: exposure: $count window(s) open ${sum} ms in all, the client ran $((t1 - t0)) ms"
		diag "exposure $client / $mode: open $sum ms, run $((t1 - t0)) ms"
		exposure_record "$client" "$mode" "$sum" "$((t1 - t0))"
	else
		not_ok "$label: exposure.log has the window's line"
	fi
	[ "$perch" = yes ] || return 0
	if ! valid=$(iss_validation_ms "$peb0"); then
		not_ok "$label: Pebble's log shows the validation"
	elif [ "${count:-0}" -gt 0 ] && [ "$sum" -le $((valid + slack * 1000)) ]; then
		ok "$label: per-challenge window(s) open $sum ms; validation, as the client saw it, at most $valid ms (+${slack}s)"
	else
		not_ok "$label: per-challenge window(s) open ${sum:-?} ms, within validation $valid ms + ${slack}s"
	fi
}
