# shellcheck shell=bash
# tests/lib/clienttest.sh: the certbot layer (certbot-standalone.t, certbot-manual.t,
# acmesh-hooks.t) over tests/lib/e2e.sh, which has the TAP lines, skip, cleanup, the world,
# Pebble, the client environment, the ruleset and certificate checks and e2e_finish: the
# test's private directory and acmegate config, a certbot run in srv, the checks every
# issuance ends with (window closed, ruleset as before) and the exposure measurement.
#
# Source it from a bash test after setting PREFIX (unique, with $$) and PLAN; needs root.
# (certbot-webroot.t takes only ct_certbot_diag from it.)
#   ok / not_ok / check / diag / bail / skip_all / e2e_*   see tests/lib/e2e.sh
#   ct_preconditions TOOL...     root, the tools, the acmegate binary
#   ct_start                     traps, T (private dir), the plan line, the world up
#   ct_world_services [nginx]    geoblock in srv (+ nginx on T/www), Pebble in ca
#   ct_certbot RUN ARGS...       certbot in srv against Pebble, fresh dirs under T/RUN
#   ct_issued RUN NAME...        the RUN's certificate is Pebble's and names every NAME
#   ct_after RUN BEFORE CLIENT MODE T0   window closed, ruleset = BEFORE, exposure recorded
#   ct_hooktimes                 T/bin/timed LABEL CMD...: runs CMD, logs "LABEL start|end MS"
# shellcheck disable=SC2153 # PREFIX and PLAN come from the test
# Globals: PREFIX PLAN T WD ACMEGATE_BIN OPEN_MS (the last window's open time, ms).

here=${here:-$(cd "$(dirname "$0")" && pwd)}
repo=${repo:-$(cd "$here/../.." && pwd)}
ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
# shellcheck source-path=SCRIPTDIR source=e2e.sh
. "$repo/tests/lib/e2e.sh"

OPEN_MS=""

ct_preconditions() {
	e2e_preconditions ip nft pebble pebble-challtestsrv openssl curl timeout python3 "$@"
	e2e_need_bin
}

# T is 0755 so that an unprivileged user can run hooks from it; the state dir stays private.
ct_make_env() {
	e2e_make_dirs e2e
	chmod 755 "$T"
	e2e_write_conf "$T/acmegate.conf" path "$(basename "$0")"
	ct_hooktimes
}

ct_start() {
	local t0=$SECONDS
	e2e_traps
	ct_make_env
	echo "1..$PLAN"
	e2e_world_up
	ok "world up: home, ca and srv routed through rt, IPv4 and IPv6 ($((SECONDS - t0))s)"
}

# The CA host's connections to srv's port 80 time out, both families.
ct_ca_dropped() { e2e_ca_dropped "${1:-80}"; }

ct_world_services() {
	world_geoblock "$PREFIX" || bail "could not load the geoblock into $PREFIX-srv"
	if [ "${1:-}" = nginx ]; then
		world_nginx "$PREFIX" "$T/www" || bail "nginx did not start"
	fi
	check "geoblock loaded: the CA host is dropped (IPv4, IPv6)" ct_ca_dropped
	e2e_pebble
	# Readable by any user: the world's own dir is private.
	install -m 0644 "$WD/tls-ca.pem" "$T/tls-ca.pem" || bail "cannot copy Pebble's CA"
	ok "Pebble answers on $ACME_DIR_URL"
}

# ct_certbot RUN ARGS...: certbot in srv with a fresh account and dirs under T/RUN, output in
# T/RUN/out.log; the environment gets CT_ENV's words (VAR=VALUE), and CT_AS's words come
# first (e.g. setpriv to another user). Returns certbot's status; CT_RUN_MS is its run time.
ct_certbot() {
	local run=$1 dir=$T/$1 t0
	local -a envs
	shift
	mkdir -p "$dir"
	mapfile -t envs < <(e2e_client_env "$T/acmegate.conf")
	t0=$(exposure_now_ms)
	world_exec "$PREFIX" srv "${CT_AS[@]}" env "${envs[@]}" \
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

# ct_certbot_diag RUN [nginx]: the run's output, certbot's hook and error lines, Pebble's log
# (and nginx's access log), acmegate's state dir.
ct_certbot_diag() {
	local dir=$T/$1
	world_tail "$dir/out.log" 15
	if [ -r "$dir/logs/letsencrypt.log" ]; then
		diag "--- hook and error lines of $dir/logs/letsencrypt.log"
		grep -E "Hook|hook command|urn:ietf|detail|Error|error" "$dir/logs/letsencrypt.log" |
			tail -n 15 | sed 's/^/#   /'
	fi
	world_tail "$WD/pebble.log" 10
	[ "${2:-}" = nginx ] && world_tail "$WD/nginx-access.log" 5
	diag "--- acmegate's state dir: $(find "$T/state" -mindepth 1 -printf '%P ' 2>/dev/null)"
}

ct_issued() {
	local run=$1
	e2e_cert_ok "$T/$run/config/live/$2/fullchain.pem" "${@:2}"
}

# No lease left, no acmegate rule left in srv.
ct_window_closed() {
	local st
	st=$(world_exec "$PREFIX" srv "$ACMEGATE_BIN" -c "$T/acmegate.conf" status --json) ||
		{ diag "acmegate status failed"; return 1; }
	printf '%s' "$st" | python3 -c \
		'import json, sys; d = json.load(sys.stdin); sys.exit(bool(d["leases"] or d["rules"]))' &&
		! e2e_ruleset | grep -q 'acmegate' && return 0
	diag "acmegate status after the run: $st"
	return 1
}

# ct_exposure CLIENT MODE RUN_MS LINES_BEFORE: OPEN_MS from the window that closed since, printed
# and recorded for bench/exposure.
ct_exposure() {
	local client=$1 mode=$2 run_ms=$3 before=$4 now
	now=$(e2e_exposure_lines)
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
	e2e_ruleset >"$T/$run.ruleset.after"
	check "$run: window closed afterwards (no lease, no acmegate rule)" ct_window_closed
	check "$run: nft ruleset after the run equals the one before" \
		e2e_same_ruleset "$before" "$T/$run.ruleset.after"
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
