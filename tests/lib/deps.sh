#!/bin/sh
# deps.sh [--list]: installs, from Debian's packages, everything acmegate needs to build, test and run
# its demo (`make deps`; also called by .ci/run). Runs apt-get only when something is missing.
set -eu
PKGS="build-essential pkg-config libnftnl-dev libmnl-dev libinih-dev libjansson-dev
libcurl4-openssl-dev libcmocka-dev libssl-dev libmicrohttpd-dev libunbound-dev libevent-dev knot knot-dnsutils nftables iproute2 iptables nginx-light pebble certbot dehydrated lego uacme python3
curl openssl perl procps util-linux bc sudo"

if [ "${1:-}" = --list ]; then
	echo $PKGS
	exit 0
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'sudo make deps'" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
