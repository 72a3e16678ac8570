#!/bin/bash
# tests/e2e/certbot-responder.t: Debian's certbot (webroot plugin) gets certificates from
# Pebble for a geoblocked server through acmegate's certbot hooks in http01_mode = responder:
# the CA's requests are redirected to acmegate's responder, which serves the files certbot
# wrote (responder_webroot) or relays the one request to nginx (responder_relay). Root, in a
# private world of network namespaces (tests/lib/world.sh); TAP; skips when not root.
#
# Checks, per run: a certificate is issued; the CA's requests never reach nginx directly;
# the responder is gone after the post-hook; the ruleset afterwards equals the one before.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/tests/lib/tap.sh"
. "$repo/tests/lib/world.sh"
ACMEGATE_BIN=${ACMEGATE_BIN:-$repo/build/acmegate}
NAME=www.example.test
P=cr$$
P=${P:0:10}
ACME_DIR_URL="https://$WORLD_CA4:$WORLD_ACME_PORT/dir"

tap_require_root
for tool in ip nft nginx pebble pebble-challtestsrv certbot openssl curl; do
	command -v "$tool" >/dev/null || tap_skip_all "$tool not installed"
done
T=$(mktemp -d /tmp/acmegate-e2e-resp.XXXXXX)
trap 'world_down $P; rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/www" && chmod 755 "$T/www"
ln -s "$ACMEGATE_BIN" "$T/bin/acmegate"
world_up "$P" >/dev/null || tap_skip_all "cannot build the test world"
WD=$(world_dir "$P")
world_geoblock "$P"
world_nginx "$P" "$T/www" || tap_skip_all "nginx did not start"
world_pebble "$P" || tap_skip_all "Pebble did not start"
tap_plan 14

# conf KEY=VALUE...: the config the hooks use
conf() {
	local kv
	{ echo "[gate]"; echo "state_dir = $T/state"; echo "ttl = 600"
	  echo "http01_mode = responder"; echo "trusted_sources = 198.51.100.0/24, 2001:db8:100::/48"
	  for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } >"$T/acmegate.conf"
}

# certbot_run RUN: certbot with the hooks in srv; its output in $T/RUN/out.log
certbot_run() {
	local dir=$T/$1
	mkdir -p "$dir"
	world_exec "$P" srv env -u http_proxy -u https_proxy -u all_proxy PATH="$T/bin:$PATH" \
		ACMEGATE_CONFIG="$T/acmegate.conf" REQUESTS_CA_BUNDLE="$WD/tls-ca.pem" \
		timeout 90 certbot certonly --webroot -w "$T/www" -d "$NAME" --preferred-challenges http \
		--server "$ACME_DIR_URL" --config-dir "$dir/config" --work-dir "$dir/work" \
		--logs-dir "$dir/logs" --register-unsafely-without-email --agree-tos --non-interactive \
		--pre-hook "$repo/hooks/certbot/pre" --post-hook "$repo/hooks/certbot/post" \
		>"$dir/out.log" 2>&1
}

issued() { openssl x509 -in "$T/$1/config/live/$NAME/fullchain.pem" -noout -issuer 2>/dev/null | grep -q Pebble; }
ca_lines() { grep -cE "^($WORLD_CA4|$WORLD_CA6) " "$WD/nginx-access.log"; }
relayed() { grep -c '^127\.0\.0\.1 "GET /.well-known/acme-challenge/' "$WD/nginx-access.log"; }
ruleset() { world_exec "$P" srv nft list ruleset; }

# run RUN FAMILY LABEL: one certbot run; four TAP lines
run() {
	local before
	world_dns "$P" "$NAME" "$2" >/dev/null
	before=$(ruleset)
	if certbot_run "$1" && issued "$1"; then tap_ok "$3: certificate issued"; else
		tap_not_ok "$3: certificate issued"; world_tail "$T/$1/out.log" 15
		world_tail "$T/state/responder.log" 10; fi
	tap_is "$(ca_lines)" 0 "$3: no request of the CA reached nginx directly"
	tap_is "$(ls "$T/state/responder.pid" 2>/dev/null)" "" "$3: the post-hook stopped the responder"
	tap_is "$(ruleset)" "$before" "$3: the ruleset afterwards equals the one before"
}

conf "responder_webroot=$T/www"
run web4 4 "webroot, IPv4"
run web6 6 "webroot, IPv6"
n=$(relayed)
conf
run relay 46 "relay, IPv6 first"
tap_like "$(($(relayed) - n))" "^[1-9]" "relay: nginx answered the challenge for the responder"
tap_like "$(grep -E "^acmegate responder: ($WORLD_CA4|$WORLD_CA6) /.well-known/acme-challenge/[A-Za-z0-9_-]+ 200" \
	"$T/state/responder.log" | wc -l)" "^[1-9]" "the responder's log shows the CA's challenge requests"
exit $((TAP_FAILED > 0))
