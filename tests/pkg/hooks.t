#!/bin/bash
# hooks.t: the client hooks' contracts, without root or a network: hooks/dehydrated/hook,
# hooks/uacme/hook and hooks/lego/dns-exec run against a stand-in `acmegate` (and `ualpn`)
# that records its arguments and exits as told. Checks which acmegate commands each client
# call produces, in which order, what is refused, and what a failing open or self-test does.
# The real thing against Pebble: tests/e2e/{dehydrated,uacme,lego-dns}.t.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
DH=$repo/hooks/dehydrated/hook
UA=$repo/hooks/uacme/hook
LD=$repo/hooks/lego/dns-exec
T=$(mktemp -d /tmp/acmegate-hooks.XXXXXX)
trap 'rm -rf "$T"' EXIT
TOK1=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
TOK2=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
KA1=$TOK1.thumb
KA2=$TOK2.thumb

# Stand-ins: each call appends one line (its arguments) to $T/calls; FAIL_OPEN / FAIL_CHECK
# make `open` / `check` exit with that code; ualpn answers $UALPN_REPLY.
mkdir -p "$T/bin" "$T/www"
cat >"$T/bin/acmegate" <<'EOF'
#!/bin/sh
echo "acmegate $*" >>"$CALLS"
case "$1" in
open) exit "${FAIL_OPEN:-0}" ;;
check) exit "${FAIL_CHECK:-0}" ;;
esac
exit 0
EOF
cat >"$T/bin/ualpn" <<'EOF'
#!/bin/sh
echo "ualpn${*:+ $*} <$(cat)" >>"$CALLS"
echo "${UALPN_REPLY:-OK}"
EOF
cat >"$T/next" <<'EOF'
#!/bin/sh
echo "next $*" >>"$CALLS"
exit "${FAIL_NEXT:-0}"
EOF
chmod 755 "$T/bin/acmegate" "$T/bin/ualpn" "$T/next"

# run HOOK ARGS...: runs the hook with the stand-ins first in PATH and a clean environment
# (plus whatever VAR=value words precede HOOK); RC and CALLS_OUT hold the result.
run() {
	local -a envs=()
	while [[ "$1" == *=* ]]; do envs+=("$1"); shift; done
	: >"$T/calls"
	env -i PATH="$T/bin:/usr/bin:/bin" CALLS="$T/calls" "${envs[@]}" "$@" >/dev/null 2>"$T/err"
	RC=$?
	CALLS_OUT=$(cat "$T/calls")
}
lines() { printf '%s\n' "$@"; }

tap_plan 33

# ---- dehydrated -------------------------------------------------------------
run CHALLENGETYPE=http-01 "$DH" deploy_challenge www.example.org "$TOK1" "$KA1"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate open --lease dehydrated --token $TOK1" \
	"acmegate check --if-configured --lease dehydrated --challenge http-01 --domain www.example.org --token $TOK1 --key-authorization $KA1")" \
	"dehydrated http-01 deploy: a token-exact open, then that challenge's self-test"
run "$DH" deploy_challenge a.example.org "$TOK1" "$KA1" b.example.org "$TOK2" "$KA2"
tap_is "$RC:$(head -n 1 "$T/calls")" "0:acmegate open --lease dehydrated --token $TOK1 --token $TOK2" \
	"dehydrated HOOK_CHAIN deploy: one open with every token (type from the key authorization)"
tap_is "$(grep -c '^acmegate check' "$T/calls")" 2 "dehydrated HOOK_CHAIN deploy: one self-test per challenge"
run "$DH" clean_challenge a.example.org "$TOK1" "$KA1" b.example.org "$TOK2" "$KA2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate close --lease dehydrated --token $TOK1" \
	"acmegate close --lease dehydrated --token $TOK2")" "dehydrated HOOK_CHAIN clean: each token closed"
run "$DH" deploy_challenge www.example.org "$TOK1" "ab:cd:ef"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate open --lease dehydrated --challenge tls-alpn-01" \
	"acmegate check --if-configured --lease dehydrated --challenge tls-alpn-01 --domain www.example.org")" \
	"dehydrated tls-alpn-01 (hex digest): port 443 opened, its self-test"
run CHALLENGETYPE=dns-01 "$DH" deploy_challenge www.example.org "$TOK1" "$TOK2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate open --lease dehydrated --challenge dns" \
	"acmegate check --if-configured --lease dehydrated --challenge dns-01 --domain www.example.org --value $TOK2")" \
	"dehydrated dns-01: port 53 opened, the TXT value's self-test"
run CHALLENGETYPE=tls-alpn-01 "$DH" clean_challenge www.example.org "$TOK1" "ab:cd"
tap_is "$RC:$CALLS_OUT" "0:acmegate close --lease dehydrated" "dehydrated tls-alpn-01 clean: the lease closed"
run "$DH" exit_hook ERROR
tap_is "$RC:$CALLS_OUT" "0:acmegate -q close --lease dehydrated" "dehydrated exit_hook: the lease closed"
run "$DH" this_hookscript_is_broken__please_ignore_unknown_hooks x y
tap_is "$RC:$CALLS_OUT" "0:" "dehydrated unknown handler: exit 0, no call"
run "$DH" deploy_challenge www.example.org "$TOK1"
tap_is "$RC:$CALLS_OUT" "64:" "dehydrated deploy with two arguments: 64, no call"
run "$DH" deploy_challenge www.example.org ../../etc/passwd "x.y"
tap_is "$RC:$CALLS_OUT" "64:" "dehydrated deploy with a token that is no base64url: 64, no call"
run FAIL_OPEN=70 "$DH" deploy_challenge www.example.org "$TOK1" "$KA1"
tap_is "$RC:$(wc -l <"$T/calls")" "70:1" "dehydrated: a failed open exits with its code, no self-test"
run FAIL_CHECK=65 "$DH" deploy_challenge www.example.org "$TOK1" "$KA1"
tap_is "$RC" 65 "dehydrated: a failed self-test stops dehydrated (65)"
run ACMEGATE_NEXT_HOOK="$T/next" "$DH" deploy_challenge www.example.org "$TOK1" "$KA1"
tap_is "$(cut -d' ' -f1,2 "$T/calls" | tr '\n' ,)" "acmegate open,next deploy_challenge,acmegate check," \
	"dehydrated ACMEGATE_NEXT_HOOK: called between open and the self-test"
run ACMEGATE_NEXT_HOOK="$T/next" "$DH" clean_challenge www.example.org "$TOK1" "$KA1"
tap_is "$(cut -d' ' -f1,2 "$T/calls" | tr '\n' ,)" "next clean_challenge,acmegate close," \
	"dehydrated ACMEGATE_NEXT_HOOK: called before close"
run ACMEGATE_NEXT_HOOK="$T/next" FAIL_NEXT=3 "$DH" deploy_cert www.example.org k c f ch 1
tap_is "$RC:$CALLS_OUT" "3:next deploy_cert www.example.org k c f ch 1" \
	"dehydrated ACMEGATE_NEXT_HOOK: other handlers pass through with their exit code"

# ---- uacme ------------------------------------------------------------------
run "$UA" begin http-01 www.example.org "$TOK1" "$KA1"
tap_is "$RC:$CALLS_OUT" "1:" "uacme http-01 without UACME_CHALLENGE_PATH: declined, no call"
run UACME_CHALLENGE_PATH="$T/www" "$UA" begin http-01 www.example.org "$TOK1" "$KA1"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate open --lease uacme --token $TOK1" \
	"acmegate check --if-configured --lease uacme --challenge http-01 --domain www.example.org --token $TOK1 --key-authorization $KA1")" \
	"uacme begin http-01: token-exact open and self-test"
tap_is "$(cat "$T/www/$TOK1" 2>/dev/null):$(stat -c %a "$T/www/$TOK1" 2>/dev/null)" "$KA1:644" \
	"uacme begin http-01: the key authorization published, readable by the web server"
run UACME_CHALLENGE_PATH="$T/www" "$UA" "done" http-01 www.example.org "$TOK1" "$KA1"
tap_is "$RC:$CALLS_OUT:$([ -e "$T/www/$TOK1" ] && echo left)" "0:acmegate close --lease uacme --token $TOK1:" \
	"uacme done http-01: file removed, token closed"
run UACME_CHALLENGE_PATH="$T/www" FAIL_OPEN=70 "$UA" begin http-01 www.example.org "$TOK1" "$KA1"
tap_is "$RC:$([ -e "$T/www/$TOK1" ] && echo left)" "1:" "uacme: a failed open declines and removes the file"
run UACME_CHALLENGE_PATH="$T/www" FAIL_CHECK=65 "$UA" begin http-01 www.example.org "$TOK1" "$KA1"
tap_is "$RC:$(tail -n 1 "$T/calls"):$([ -e "$T/www/$TOK1" ] && echo left)" \
	"1:acmegate close --lease uacme --token $TOK1:" "uacme: a failed self-test declines, closes, removes the file"
run UALPN_SOCKET="$T/s" "$UA" begin tls-alpn-01 www.example.org "$TOK1" "$TOK2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "ualpn -s $T/s <auth www.example.org $TOK2" \
	"acmegate open --lease uacme --challenge tls-alpn-01" \
	"acmegate check --if-configured --lease uacme --challenge tls-alpn-01 --domain www.example.org")" \
	"uacme begin tls-alpn-01: ualpn gets the authorization, 443 opens, self-test"
run UALPN_REPLY="ERR no server" "$UA" begin tls-alpn-01 www.example.org "$TOK1" "$TOK2"
tap_is "$RC:$(grep -c acmegate "$T/calls")" "1:0" "uacme tls-alpn-01 that ualpn refuses: declined, nothing opened"
run "$UA" failed tls-alpn-01 www.example.org "$TOK1" "$TOK2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "ualpn <unauth www.example.org" "acmegate close --lease uacme")" \
	"uacme failed tls-alpn-01: ualpn unauth, lease closed"
run UACME_CHALLENGE_PATH="$T/www" "$UA" begin dns-01 www.example.org "$TOK1" "$TOK2"
tap_is "$RC:$CALLS_OUT" "1:" "uacme dns-01: declined, no call"
run "$UA" begin http-01 www.example.org "$TOK1"
tap_is "$RC:$CALLS_OUT" "64:" "uacme with four arguments: 64"
run UACME_CHALLENGE_PATH="$T/www" "$UA" begin http-01 www.example.org ../x "$KA1"
tap_is "$RC:$CALLS_OUT" "64:" "uacme with a token that is no base64url: 64, no call"

# ---- lego dns-exec ----------------------------------------------------------
run ACMEGATE_DNS_EXEC="$T/next" "$LD" present _acme-challenge.www.example.org. "$TOK2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "acmegate open --lease lego-dns --challenge dns" \
	"next present _acme-challenge.www.example.org. $TOK2" \
	"acmegate check --if-configured --lease lego-dns --challenge dns-01 --domain www.example.org --value $TOK2")" \
	"lego dns-exec present: open, the update, the record's self-test"
run ACMEGATE_DNS_EXEC="$T/next" "$LD" cleanup _acme-challenge.www.example.org. "$TOK2"
tap_is "$RC:$CALLS_OUT" "0:$(lines "next cleanup _acme-challenge.www.example.org. $TOK2" \
	"acmegate close --lease lego-dns")" "lego dns-exec cleanup: the update, then close"
run ACMEGATE_DNS_EXEC="$T/next" FAIL_NEXT=5 "$LD" present _acme-challenge.www.example.org. "$TOK2"
tap_is "$RC:$(tail -n 1 "$T/calls")" "5:acmegate close --lease lego-dns" \
	"lego dns-exec: a failed update closes again and exits with its code"
run ACMEGATE_DNS_EXEC="$T/next" FAIL_OPEN=70 "$LD" present _acme-challenge.www.example.org. "$TOK2"
tap_is "$RC:$CALLS_OUT" "70:acmegate open --lease lego-dns --challenge dns" \
	"lego dns-exec: a failed open exits with its code, before the update"
run "$LD" present _acme-challenge.www.example.org. "$TOK2"
tap_is "$RC:$CALLS_OUT" "64:" "lego dns-exec without ACMEGATE_DNS_EXEC: 64, no call"
exit $((TAP_FAILED > 0))
