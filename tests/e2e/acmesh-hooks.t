#!/bin/bash
# tests/e2e/acmesh-hooks.t: acmegate's acme.sh hooks (hooks/acme.sh/pre and post) called
# exactly as acme.sh calls its --pre-hook and --post-hook strings: in a subshell, with
# Le_Domain and Le_Alt exported, from the certificate's directory, through `eval`. acme.sh is
# not packaged in Debian, so between the two hooks Debian's certbot (webroot plugin, served by
# nginx) stands in for acme.sh's own webroot issuance against Pebble. Needs root: a private
# simulated Internet of network namespaces (tests/lib/world.sh); never the host's network,
# ruleset or sudo configuration (the sudoers file is bind-mounted in a private mount namespace).
#
# As root, and as an unprivileged user (nobody) going through `sudo -n` with
# conf/sudoers.acmegate: the pre-hook opens lease "acme.sh", the certificate is issued, the
# post-hook closes it, `nft list ruleset` in srv equals what it was before, and the window's open
# time is printed and recorded for bench/exposure. The sudo rule refuses anything else: another
# lease, --ttl, close --all, a check that names another lease, status; the pre-hook refuses
# arguments the rule would not pass, and its two variants (--mode port for acme.sh --standalone,
# --challenge tls-alpn-01 for --alpn) pass it.
#
# Run:   sudo tests/run tests/e2e/acmesh-hooks.t     (about 30 s)
# Env:   ACMEGATE_BIN (default <repo>/build/acmegate), E2E_KEEP=1, EXPOSURE_TABLE
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PREFIX=ah$$
PLAN=34
# shellcheck source-path=SCRIPTDIR source=../lib/clienttest.sh
. "$repo/tests/lib/clienttest.sh"
NAME1=www.example.test
NAME2=a2.example.test
# The strings a user gives acme.sh (--pre-hook, --post-hook), with the repository's hooks.
PRE_HOOK="$repo/hooks/acme.sh/pre"
POST_HOOK="$repo/hooks/acme.sh/post"
USER_ID=65534
GROUP_ID=65534

# T/acmesh-hook pre|post HOOK_STRING LE_DOMAIN LE_ALT DOMAIN_PATH: what acme.sh does with a
# saved hook string (its issue() and _on_issue_success/_on_issue_err), in sh as acme.sh is.
make_acmesh_hook() {
	cat >"$T/bin/acmesh-hook" <<'EOF'
#!/bin/sh
_hook=$2
_main_domain=$3
_alt_domains=$4
DOMAIN_PATH=$5
if ! (
	export Le_Domain="$_main_domain"
	export Le_Alt="$_alt_domains"
	cd "$DOMAIN_PATH" && eval "$_hook"
); then
	echo "[acme.sh] Error when run $1 hook." >&2
	exit 1
fi
EOF
	chmod 755 "$T/bin/acmesh-hook"
}

# The unprivileged user's sudo: our rule for user nobody, the acmegate it names being a
# wrapper that gives the binary under test the test's config (sudo resets the environment).
make_sudo() {
	mkdir -p "$T/sbin"
	printf '#!/bin/sh\nexec %s -c %s "$@"\n' "$ACMEGATE_BIN" "$T/acmegate.conf" >"$T/sbin/acmegate"
	chmod 755 "$T/sbin/acmegate"
	{
		printf 'Defaults env_reset\nDefaults !syslog\nDefaults !lecture\n'
		sed -e "s|/usr/sbin/acmegate|$T/sbin/acmegate|" -e 's/^acme /nobody /' \
			"$repo/conf/sudoers.acmegate"
	} >"$T/sudoers"
	chmod 0440 "$T/sudoers"
}

# as_user CMD...: CMD in srv as nobody, sudo reading T/sudoers; acmegate found in T/sbin.
as_user() {
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
	world_exec "$PREFIX" srv unshare -m --propagation private sh -c \
		'mount --bind "$0" /etc/sudoers && exec "$@"' "$T/sudoers" \
		setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups \
		env -i PATH="$T/sbin:/usr/bin:/bin" HOME=/nonexistent "$@"
}

as_root() {
	world_exec "$PREFIX" srv env PATH="$T/bin:$PATH" ACMEGATE_CONFIG="$T/acmegate.conf" "$@"
}

leases() {
	world_exec "$PREFIX" srv "$ACMEGATE_BIN" -c "$T/acmegate.conf" status --json |
		python3 -c 'import json, sys; print(" ".join(sorted(l["name"] for l in json.load(sys.stdin)["leases"])))'
}

# ---- one emulated acme.sh issuance -----------------------------------------

# issue RUN WHO ALT NAMES...: pre-hook, certbot for NAMES, post-hook, as WHO (root or user),
# with Le_Alt ALT; ten TAP lines.
issue() {
	local run=$1 who=$2 alt=$3 before=$T/$1.ruleset.before lines t0 got
	shift 3
	local -a runas=(as_root) dargs=()
	[ "$who" = user ] && runas=(as_user)
	for n in "$@"; do dargs+=(-d "$n"); done
	mkdir -p "$T/$run/domain"
	[ "$who" = user ] && chown -R "$USER_ID:$GROUP_ID" "$T/$run" "$T/www"
	e2e_ruleset >"$before"
	lines=$(e2e_exposure_lines)
	t0=$(exposure_now_ms)
	if "${runas[@]}" "$T/bin/acmesh-hook" pre "$PRE_HOOK" "$1" "$alt" "$T/$run/domain" \
		>"$T/$run/pre.log" 2>&1; then
		ok "$run: the pre-hook, as $who, exits 0"
	else
		not_ok "$run: the pre-hook, as $who, exits 0"
		world_tail "$T/$run/pre.log"
	fi
	got=$(leases)
	check "$run: lease acme.sh is open (leases: '$got')" [ "$got" = acme.sh ]
	got=$(world_tcp_probe "$PREFIX" ca "$WORLD_SRV4" 80)
	check "$run: the CA host reaches port 80 ($got)" [ "$got" = open ]
	CT_AS=()
	[ "$who" = user ] && CT_AS=(setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups)
	if ct_certbot "$run" --webroot -w "$T/www" "${dargs[@]}" --preferred-challenges http &&
		ct_issued "$run" "$@"; then
		ok "$run: certificate issued between the hooks ($CT_RUN_MS ms)"
	else
		not_ok "$run: certificate issued between the hooks"
		ct_certbot_diag "$run"
	fi
	CT_AS=()
	if "${runas[@]}" "$T/bin/acmesh-hook" post "$POST_HOOK" "$1" "$alt" "$T/$run/domain" \
		>"$T/$run/post.log" 2>&1; then
		ok "$run: the post-hook, as $who, exits 0"
	else
		not_ok "$run: the post-hook, as $who, exits 0"
		world_tail "$T/$run/post.log"
	fi
	CT_RUN_MS=$(($(exposure_now_ms) - t0))
	ct_after "$run" "$before" acme.sh "path, run hooks" "$lines"
	check "$run: the CA host is dropped again" ct_ca_dropped
	if [ -n "$OPEN_MS" ] && [ "$OPEN_MS" -le "$CT_RUN_MS" ]; then
		ok "$run: window open $OPEN_MS ms, within the $CT_RUN_MS ms from pre-hook to post-hook"
	else
		not_ok "$run: window open (${OPEN_MS:-?} ms) within the $CT_RUN_MS ms run"
	fi
}

# ---- what the sudo rule refuses ---------------------------------------------

# refused ARGS...: `sudo -n acmegate ARGS` as the user is refused by sudo, not by acmegate.
refused() {
	local out
	out=$(as_user sudo -n acmegate "$@" 2>&1) && { diag "allowed: $out"; return 1; }
	case "$out" in *"password is required"* | *"not allowed"*) return 0 ;; esac
	diag "refused, but not by sudo: $out"
	return 1
}

unchanged() { [ "$1" = certbot ] && e2e_same_ruleset "$2" "$3"; }

# variant WHAT ARGS...: as the user, `pre ARGS` opens lease acme.sh for WHAT (acmegate's words)
# and post closes it.
variant() {
	local what=$1
	shift
	as_user "$T/bin/acmesh-hook" pre "$PRE_HOOK $*" "$NAME1" no / >"$T/variant.log" 2>&1 &&
		as_user "$T/bin/acmesh-hook" post "$POST_HOOK" "$NAME1" no / >>"$T/variant.log" 2>&1 &&
		grep -q "opened $what for lease 'acme.sh'" "$T/variant.log" && ct_window_closed && return 0
	world_tail "$T/variant.log"
	return 1
}

refusals() {
	local before=$T/refusals.ruleset.before got
	as_root acmegate open --lease certbot >/dev/null 2>&1 || bail "root could not open lease certbot"
	e2e_ruleset >"$before"
	check "sudo refuses: open --lease acme.sh --ttl 99999" refused open --lease acme.sh --ttl 99999
	check "sudo refuses: close --all" refused close --all
	check "sudo refuses: open --lease certbot" refused open --lease certbot
	check "sudo refuses: close --lease certbot" refused close --lease certbot
	check "sudo refuses: check that names another lease" \
		refused check --lease acme.sh --if-configured --domain "$NAME1" --lease certbot
	check "sudo refuses: status" refused status
	if as_user "$PRE_HOOK" --ttl 99999 >"$T/prebad.log" 2>&1; then
		not_ok "the pre-hook refuses arguments the sudo rule would not pass"
	else
		got=$?
		check "the pre-hook refuses arguments the sudo rule would not pass (exit $got)" [ "$got" = 64 ]
	fi
	e2e_ruleset >"$T/refusals.ruleset.after"
	got=$(leases)
	check "after the refusals lease certbot alone is open ('$got'), the ruleset unchanged" \
		unchanged "$got" "$before" "$T/refusals.ruleset.after"
	as_root acmegate close --lease certbot >/dev/null 2>&1
	check "as the user, 'pre --mode port' opens http-01 in port mode (acme.sh --standalone)" \
		variant "http-01 (port mode)" --mode port
	check "as the user, 'pre --challenge tls-alpn-01' opens tls-alpn-01 (acme.sh --alpn)" \
		variant tls-alpn-01 --challenge tls-alpn-01
}

main() {
	ct_preconditions certbot nginx sudo visudo setpriv unshare
	ct_start
	check "conf/sudoers.acmegate passes visudo -cf" visudo -cqf "$repo/conf/sudoers.acmegate"
	ct_world_services nginx
	make_acmesh_hook
	make_sudo
	world_dns "$PREFIX" "$NAME1" 4 || bail "could not set DNS for $NAME1"
	world_dns "$PREFIX" "$NAME2" 6 || bail "could not set DNS for $NAME2"
	issue root root no "$NAME1"
	issue user user "$NAME2" "$NAME1" "$NAME2"
	refusals
	e2e_finish
}

main "$@"
