#!/bin/bash
# hooks.t: the certbot manual hooks and the acme.sh hooks call acmegate (and sudo) with exactly
# the arguments their contracts promise, validate what certbot passes them, read their settings
# file strictly, pass on acmegate's failures and close a window even when DNS fails. A fake
# acmegate, sudo, id and kdig in PATH stand in; no root, no network (dns-01 that works is in
# tests/e2e/certbot-manual.t).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$here/../lib/tap.sh"
T=$(mktemp -d /tmp/acmegate-hooks.XXXXXX)
trap 'rm -rf "$T"' EXIT
tap_plan 27

# Fakes: each appends "NAME ARGS" to T/calls; acmegate exits with $FAKE_RC (default 0).
mkdir -p "$T/bin" "$T/www"
cat >"$T/bin/acmegate" <<EOF
#!/bin/sh
echo "acmegate \$*" >>"$T/calls"
exit "\${FAKE_RC:-0}"
EOF
cat >"$T/bin/sudo" <<EOF
#!/bin/sh
echo "sudo \$*" >>"$T/calls"
EOF
cat >"$T/bin/id" <<'EOF'
#!/bin/sh
echo "${FAKE_UID:-0}"
EOF
# A DNS server that does not answer (FAKE_DIG=none) or serves the zone example.org (soa).
cat >"$T/bin/kdig" <<'EOF'
#!/bin/sh
[ "$FAKE_DIG" = soa ] || exit 9
case "$*" in *" SOA "*) echo "example.org. 30 IN SOA ns1.example.org. h.example.org. 1 2 3 4 5" ;; esac
EOF
chmod 755 "$T/bin/acmegate" "$T/bin/sudo" "$T/bin/id" "$T/bin/kdig"

TOK=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
KA=$TOK.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
CH=$T/www/.well-known/acme-challenge

# manual auth|cleanup [ARGS]: the hook as certbot runs it for one http-01 challenge.
manual() {
	local which=$1
	shift
	: >"$T/calls"
	env -i PATH="$T/bin:/usr/bin:/bin" ACMEGATE_WEBROOT="${WEBROOT-$T/www}" \
		ACMEGATE_HOOKS_CONF="${HOOKS_CONF:-/nonexistent}" FAKE_RC="${FAKE_RC:-0}" \
		CERTBOT_DOMAIN=www.example.org CERTBOT_TOKEN="${TOKEN-$TOK}" CERTBOT_VALIDATION="$KA" \
		CERTBOT_REMAINING_CHALLENGES=0 "$repo/hooks/certbot/manual-$which" "$@" 2>"$T/err"
}

calls() { cat "$T/calls" 2>/dev/null; }

# ---- certbot manual, http-01 -----------------------------------------------

manual auth
tap_is "$?" 0 "manual-auth exits 0 when acmegate does"
tap_is "$(cat "$CH/$TOK" 2>/dev/null)" "$KA" "manual-auth writes the key authorization to WEBROOT/.well-known/acme-challenge/TOKEN"
tap_is "$(stat -c %a "$CH/$TOK" 2>/dev/null)" 644 "the challenge file is readable by the web server (0644)"
tap_is "$(calls)" "acmegate open --lease certbot-manual --token $TOK
acmegate check --lease certbot-manual --if-configured --domain www.example.org --token $TOK --key-authorization $KA" \
	"manual-auth opens a token-exact window and runs the self-test for that challenge"
manual auth --ttl 900
tap_like "$(calls)" "^acmegate open --lease certbot-manual --token $TOK --ttl 900$" \
	"manual-auth passes its arguments on to acmegate open"
manual cleanup
tap_is "$?:$(calls)" "0:acmegate close --lease certbot-manual --token $TOK" \
	"manual-cleanup closes that token"
if [ -e "$CH/$TOK" ]; then tap_not_ok "manual-cleanup removes the file"; else tap_ok "manual-cleanup removes the file"; fi

FAKE_RC=70 manual auth
rc=$?
tap_is "$rc:$(calls | wc -l)" "70:1" "a failed open: the hook exits with acmegate's code and runs no self-test"
tap_like "$(cat "$T/err")" "did NOT open.*exit code 70" "a failed open says so on stderr"
FAKE_RC=65 manual auth >/dev/null
tap_is "$?" 65 "a failed self-test: the hook exits 65"

TOKEN="../../etc/passwd" manual auth
tap_is "$?:$(calls)" "64:" "a token with a path in it is refused before anything is written or opened"
env -i PATH="$T/bin:/usr/bin:/bin" CERTBOT_DOMAIN=www.example.org CERTBOT_TOKEN="$TOK" \
	CERTBOT_VALIDATION="$KA" "$repo/hooks/certbot/manual" 2>/dev/null
tap_is "$?" 64 "called as neither manual-auth nor manual-cleanup, and without a verb, the hook refuses"
: >"$T/calls"
env -i PATH="$T/bin:/usr/bin:/bin" "$repo/hooks/certbot/manual-auth" 2>"$T/err"
tap_is "$?:$(calls)" "64:" "without certbot's environment, the hook refuses and calls nothing"

# ---- certbot manual, dns-01: the failure paths (the rest is in tests/e2e/certbot-manual.t)

# dns auth|cleanup: the hook for one dns-01 challenge, the update command being ACMEGATE_DNS_UPDATE.
dns() {
	: >"$T/calls"
	env -i PATH="$T/bin:/usr/bin:/bin" ACMEGATE_HOOKS_CONF=/nonexistent FAKE_DIG="$FAKE_DIG" \
		ACMEGATE_DNS_SERVER="${ACMEGATE_DNS_SERVER:-127.0.0.1}" \
		ACMEGATE_DNS_UPDATE="$UPDATE" CERTBOT_DOMAIN=www.example.org CERTBOT_VALIDATION="$TOK" \
		"$repo/hooks/certbot/manual-$1" 2>"$T/err"
}
FAKE_DIG=soa UPDATE=false dns auth
tap_is "$?:$(calls)" "69:" "dns-01: an update that fails: exit 69, port 53 not opened"
tap_like "$(cat "$T/err")" "'false' could not add _acme-challenge.www.example.org. TXT at 127.0.0.1 \(zone example.org.\)" \
	"... saying which record, server and zone"
FAKE_DIG=none UPDATE=true dns cleanup
tap_is "$?:$(calls)" "69:acmegate close --lease certbot-manual-dns" \
	"dns-01 cleanup with a DNS server that does not answer still closes the window (exit 69)"

# ---- the settings file -------------------------------------------------------

mkdir -p "$T/www2"
printf '# from the file\nACMEGATE_WEBROOT=%s\n' "$T/www2" >"$T/hooks.conf"
WEBROOT="" HOOKS_CONF="$T/hooks.conf" manual auth
tap_is "$(cat "$T/www2/.well-known/acme-challenge/$TOK" 2>/dev/null)" "$KA" \
	"ACMEGATE_WEBROOT comes from the settings file when the environment has none"
HOOKS_CONF="$T/hooks.conf" manual auth
tap_is "$(cat "$CH/$TOK" 2>/dev/null)" "$KA" "the environment wins over the settings file"
printf 'ACMEGATE_WEBROT=/tmp\n' >"$T/bad.conf"
HOOKS_CONF="$T/bad.conf" manual auth
tap_is "$?:$(calls)" "64:" "an unknown key in the settings file is an error"
tap_like "$(cat "$T/err")" "bad.conf: unknown setting 'ACMEGATE_WEBROT'" "... that names the file and key"

printf 'ACMEGATE_DNS_AUTHORITATIVE=maybe\n' >"$T/bad.conf"
HOOKS_CONF="$T/bad.conf" manual auth
tap_like "$?:$(calls):$(cat "$T/err")" "^64::.*bad ACMEGATE_DNS_AUTHORITATIVE 'maybe'" \
	"a bad value in the settings file is an error that names the key and the value"
FAKE_DIG=soa UPDATE=true ACMEGATE_DNS_SERVER="127.0.0.1
update delete example.org. SOA" dns auth
tap_like "$?:$(calls):$(cat "$T/err")" "^64::.*bad ACMEGATE_DNS_SERVER" \
	"a DNS server setting that would add lines to the update script is refused"

# ---- acme.sh ---------------------------------------------------------------

# acmesh pre|post [ARGS]: the hook as acme.sh evals it, as uid FAKE_UID.
acmesh() {
	local which=$1
	shift
	: >"$T/calls"
	env -i PATH="$T/bin:/usr/bin:/bin" FAKE_UID="${FAKE_UID:-0}" Le_Domain=www.example.org \
		Le_Alt="${ALT:-no}" "$repo/hooks/acme.sh/$which" "$@" 2>"$T/err"
}

acmesh pre
tap_is "$?:$(calls)" "0:acmegate open --lease acme.sh
acmegate check --lease acme.sh --if-configured --domain www.example.org" \
	"acme.sh pre as root: open lease acme.sh, self-test Le_Domain (Le_Alt 'no' is none)"
FAKE_UID=1000 ALT="a2.example.org,*.example.org" acmesh pre --mode port
tap_is "$?:$(calls)" "0:sudo -n acmegate open --lease acme.sh --mode port
sudo -n acmegate check --lease acme.sh --if-configured --domain www.example.org --domain a2.example.org" \
	"acme.sh pre as a user: through sudo -n, Le_Alt's names checked, wildcards left to dns-01"
acmesh pre --ttl 99999
tap_is "$?:$(calls)" "64:" "acme.sh pre refuses arguments the sudo rule does not allow"
FAKE_UID=1000 acmesh post
tap_is "$?:$(calls)" "0:sudo -n acmegate close --lease acme.sh" "acme.sh post as a user closes through sudo -n"
acmesh post
tap_is "$(calls)" "acmegate close --lease acme.sh" "acme.sh post as root closes directly"
exit $((TAP_FAILED > 0))
