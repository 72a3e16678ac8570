#!/bin/bash
# install.t: `make install` honours DESTDIR and PREFIX and installs the binary, the hooks (certbot
# pre/post and manual, acme.sh), the example config and sudoers rule, the man pages and the sweep
# timer; install-certbot-hooks fills certbot's renewal-hooks directories. No root needed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
stage=$(mktemp -d /tmp/acmegate-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tap_plan 23
make -s -C "$repo" install DESTDIR="$stage/a" >/dev/null 2>&1
tap_is "$?" 0 "make install DESTDIR=… succeeds"
for f in usr/sbin/acmegate usr/lib/acmegate/hooks/certbot/pre usr/lib/acmegate/hooks/certbot/post \
	usr/lib/acmegate/hooks/dehydrated/hook usr/lib/acmegate/hooks/uacme/hook \
	usr/lib/acmegate/hooks/lego/dns-exec \
	etc/acmegate/acmegate.conf.example lib/systemd/system/acmegate-sweep.timer \
	usr/share/man/man8/acmegate.8 usr/share/man/man5/acmegate.conf.5 usr/sbin/acmegate-agent \
	lib/systemd/system/acmegate-agent.service etc/acmegate/agent.conf.example \
	usr/share/man/man8/acmegate-agent.8 usr/lib/acmegate/hooks/certbot/manual-auth \
	usr/lib/acmegate/hooks/certbot/manual-cleanup usr/lib/acmegate/hooks/acme.sh/pre \
	usr/lib/acmegate/hooks/acme.sh/post etc/acmegate/sudoers.acmegate.example; do
	[ -e "$stage/a/$f" ] && tap_ok "installs /$f" || tap_not_ok "installs /$f"
done
make -s -C "$repo" install DESTDIR="$stage/b" PREFIX=/usr/local >/dev/null 2>&1
[ -x "$stage/b/usr/local/sbin/acmegate" ] &&
	grep -q '^ExecStart=/usr/local/sbin/acmegate ' "$stage/b/lib/systemd/system/acmegate-sweep.service" &&
	tap_ok "PREFIX=/usr/local: binary in /usr/local/sbin, and the sweep service runs it there" ||
	tap_not_ok "PREFIX=/usr/local: binary in /usr/local/sbin, and the sweep service runs it there"
# Installed as files (the two manual hook names are one script, chosen by its name).
[ -f "$stage/b/usr/local/lib/acmegate/hooks/certbot/manual-auth" ] &&
	[ ! -L "$stage/b/usr/local/lib/acmegate/hooks/certbot/manual-auth" ] &&
	grep -q '^acme ALL = (root) NOPASSWD: ACMEGATE_ACMESH' "$stage/b/etc/acmegate/sudoers.acmegate.example" &&
	grep -q '/usr/local/sbin/acmegate close --lease acme.sh' "$stage/b/etc/acmegate/sudoers.acmegate.example" &&
	! grep -q '/usr/sbin/acmegate' "$stage/b/etc/acmegate/sudoers.acmegate.example" &&
	tap_ok "PREFIX=/usr/local: manual hooks as files, the sudoers example names /usr/local/sbin/acmegate" ||
	tap_not_ok "PREFIX=/usr/local: manual hooks as files, the sudoers example names /usr/local/sbin/acmegate"
make -s -C "$repo" install-certbot-hooks DESTDIR="$stage/c" >/dev/null 2>&1
[ -x "$stage/c/etc/letsencrypt/renewal-hooks/pre/acmegate" ] &&
	[ -x "$stage/c/etc/letsencrypt/renewal-hooks/post/acmegate" ] &&
	tap_ok "install-certbot-hooks fills renewal-hooks/pre and post" ||
	tap_not_ok "install-certbot-hooks fills renewal-hooks/pre and post"
exit $((TAP_FAILED > 0))
