# shellcheck shell=bash
# tests/lib/world.sh: a small simulated Internet for acmegate's end-to-end tests.
#
# Source it from a bash test; every function needs root (network namespaces,
# nftables). Nothing here touches the host's own network or ruleset: all links,
# addresses, routes, rules and daemons live inside four namespaces per PREFIX:
#
#   PREFIX-home  198.51.100.7  2001:db8:100::7   the "home country" (allowed source)
#   PREFIX-srv   192.0.2.10    2001:db8:10::10   the geoblocked server (nginx, certbot)
#   PREFIX-ca    203.0.113.5   2001:db8:203::5   the foreign CA host (Pebble, challtestsrv)
#   PREFIX-rt    .1 / ::1 on each link           router, forwards IPv4 and IPv6
#
# Only documentation addresses are used, and only between these namespaces.
#
# Functions (PREFIX: 1-10 characters of [a-z0-9]):
#   world_up PREFIX              namespaces, veth links, addresses, routes; checks reachability
#   world_down PREFIX            kills every process in the namespaces, deletes them (idempotent)
#   world_geoblock PREFIX        loads the distro-style "inet filter" geoblock into srv
#   world_geoblock_ingress PREFIX  adds an nft-geo-filter style netdev ingress table on srv's eth0
#   world_nginx PREFIX WEBROOT   nginx in srv, port 80, both families, files in the world dir
#   world_pebble PREFIX          Pebble (+ pebble-challtestsrv as its DNS) in ca
#   world_dns PREFIX NAME 4|6|46 points NAME at the server: A only, AAAA only, or both
#   world_exec PREFIX NODE CMD.. runs CMD inside PREFIX-NODE
#   world_tcp_probe PREFIX NODE ADDR PORT  prints open, refused or timeout (2 s)
#   world_dir PREFIX             the world's private directory (logs, configs, pids)
#
# Set WORLD_KEEP=1 to keep the world directory after world_down (for debugging), and
# WORLD_PEBBLE_DNS=ADDR:PORT to have Pebble resolve through another server than challtestsrv
# (an authoritative server of the test's own, for dns-01).

WORLD_SRV4=192.0.2.10
WORLD_SRV6=2001:db8:10::10
WORLD_HOME4=198.51.100.7
WORLD_HOME6=2001:db8:100::7
WORLD_CA4=203.0.113.5
WORLD_CA6=2001:db8:203::5
WORLD_NODES="rt srv home ca"
WORLD_ACME_PORT=14000
WORLD_CTS_MGMT=127.0.0.1:8055
WORLD_CTS_DNS=127.0.0.1:8053

world_log() { printf '# world: %s\n' "$*" >&2; }
world_fail() { printf '# world: ERROR: %s\n' "$*" >&2; return 1; }

world_check_prefix() {
	case "$1" in
	'' | *[!a-z0-9]*) world_fail "bad prefix '$1' (want [a-z0-9], 1-10 chars)" ;;
	*) [ "${#1}" -le 10 ] || world_fail "prefix '$1' longer than 10 characters" ;;
	esac
}

world_dir() { printf '%s/acmegate-world.%s\n' "${WORLD_STATE_BASE:-/tmp}" "$1"; }
world_ns() { printf '%s-%s\n' "$1" "$2"; }
world_exec() {
	local prefix=$1 node=$2
	shift 2
	ip netns exec "$(world_ns "$prefix" "$node")" "$@"
}

# world_spawn PREFIX NODE LOGNAME CMD...: start CMD in the background inside the
# node, output to WORLD_DIR/LOGNAME.log, pid recorded for world_down.
world_spawn() {
	local prefix=$1 node=$2 log=$3 dir pid
	shift 3
	dir=$(world_dir "$prefix")
	ip netns exec "$(world_ns "$prefix" "$node")" "$@" >"$dir/$log.log" 2>&1 </dev/null &
	pid=$!
	printf '%s %s %s\n' "$pid" "$node" "$log" >>"$dir/pids"
}

# world_wait_for SECONDS DESCRIPTION CMD...: retry CMD every 0.2 s until it
# succeeds or SECONDS have passed.
world_wait_for() {
	local secs=$1 what=$2 tries
	shift 2
	tries=$((secs * 5))
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		tries=$((tries - 1))
	done
	world_fail "timed out after ${secs}s waiting for $what"
}

world_alive() { [ -d "/proc/$1" ] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# The inode of a namespace, to tell whether a pid still lives in it.
world_ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }

# world_ns_pids PREFIX: every live pid inside any of the world's namespaces,
# the tracked ones included.
world_ns_pids() {
	local prefix=$1 node ns
	for node in $WORLD_NODES; do
		ns=$(world_ns "$prefix" "$node")
		[ -e "/run/netns/$ns" ] && ip netns pids "$ns" 2>/dev/null
	done
	return 0
}

# The pids world_spawn recorded that are still alive in one of our namespaces
# (a recycled pid elsewhere is left alone).
world_tracked_pids() {
	local prefix=$1 dir pid node _ ino
	dir=$(world_dir "$prefix")
	[ -f "$dir/pids" ] || return 0
	while read -r pid node _; do
		world_alive "$pid" || continue
		ino=$(world_ns_inode "$(world_ns "$prefix" "$node")") || continue
		[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ] && echo "$pid"
	done <"$dir/pids"
}

world_kill_all() {
	local prefix=$1 pids pid tries=15
	pids=$({ world_tracked_pids "$prefix"; world_ns_pids "$prefix"; } | sort -u)
	[ -n "$pids" ] || return 0
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
	while [ "$tries" -gt 0 ]; do
		local left=""
		for pid in $pids; do world_alive "$pid" && left="$left $pid"; done
		[ -z "$left" ] && return 0
		sleep 0.2
		tries=$((tries - 1))
	done
	world_log "killing stubborn pids:$left"
	for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
	return 0
}

world_down() {
	local prefix=$1 node ns dir
	world_check_prefix "$prefix" || return 1
	world_kill_all "$prefix"
	for node in $WORLD_NODES; do
		ns=$(world_ns "$prefix" "$node")
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	dir=$(world_dir "$prefix")
	if [ "${WORLD_KEEP:-0}" = 1 ]; then
		[ -d "$dir" ] && world_log "kept $dir"
	else
		rm -rf "$dir"
	fi
	return 0
}

# world_link PREFIX NODE ROUTER_IF NET4 HOST4 NET6 HOST6: a veth pair between
# the router and NODE ("eth0" there), /24 and /64, the router being .1 and ::1.
world_link() {
	local prefix=$1 node=$2 rif=$3 net4=$4 host4=$5 net6=$6 host6=$7
	local rt ns
	rt=$(world_ns "$prefix" rt)
	ns=$(world_ns "$prefix" "$node")
	ip -n "$rt" link add "$rif" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$rt" addr add "$net4.1/24" dev "$rif" || return 1
	ip -n "$rt" addr add "$net6::1/64" dev "$rif" nodad || return 1
	ip -n "$ns" addr add "$host4/24" dev eth0 || return 1
	ip -n "$ns" addr add "$host6/64" dev eth0 nodad || return 1
	ip -n "$rt" link set "$rif" up || return 1
	ip -n "$ns" link set eth0 up || return 1
	ip -n "$ns" route add default via "$net4.1" || return 1
	ip -n "$ns" -6 route add default via "$net6::1" || return 1
}

world_sysctl() {
	local prefix=$1 node=$2
	shift 2
	world_exec "$prefix" "$node" sysctl -q -w "$@" >/dev/null
}

world_up() {
	local prefix=$1 node ns dir
	world_check_prefix "$prefix" || return 1
	world_down "$prefix"
	dir=$(world_dir "$prefix")
	mkdir -m 700 "$dir" || return 1
	: >"$dir/pids"
	for node in $WORLD_NODES; do
		ns=$(world_ns "$prefix" "$node")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
		# No duplicate address detection: addresses are usable at once.
		world_sysctl "$prefix" "$node" net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
	world_sysctl "$prefix" rt net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	world_link "$prefix" srv to-srv 192.0.2 "$WORLD_SRV4" 2001:db8:10 "$WORLD_SRV6" || return 1
	world_link "$prefix" home to-home 198.51.100 "$WORLD_HOME4" 2001:db8:100 "$WORLD_HOME6" || return 1
	world_link "$prefix" ca to-ca 203.0.113 "$WORLD_CA4" 2001:db8:203 "$WORLD_CA6" || return 1
	world_check_routes "$prefix"
}

# world_tcp_probe PREFIX NODE ADDR PORT: "open", "refused" or "timeout" (2 s).
world_tcp_probe() {
	local prefix=$1 node=$2 addr=$3 port=$4 err
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	err=$(world_exec "$prefix" "$node" timeout 2 bash -c \
		'exec 3<>"/dev/tcp/$0/$1"' "$addr" "$port" 2>&1)
	case $? in
	0) echo open ;;
	124) echo timeout ;;
	*) case "$err" in *refused*) echo refused ;; *) echo "error: $err" ;; esac ;;
	esac
}

# Every node reaches the server's closed port 9 through the router: a refusal
# (RST) proves the path works in both directions, for both families.
world_check_routes() {
	local prefix=$1 node addr got
	for node in home ca; do
		for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
			got=$(world_tcp_probe "$prefix" "$node" "$addr" 9)
			[ "$got" = refused ] ||
				world_fail "$node -> $addr: expected a refused connection, got $got" || return 1
		done
	done
}

# The distro geoblock: an inet input chain that drops all but the home ranges.
world_geoblock() {
	world_exec "$1" srv nft -f - <<'EOF'
table inet filter {
	set allow4 {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.0/24 }
	}
	set allow6 {
		type ipv6_addr
		flags interval
		elements = { 2001:db8:100::/48 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		meta l4proto ipv6-icmp accept
		meta l4proto icmp accept
		ip saddr @allow4 accept
		ip6 saddr @allow6 accept
	}
}
EOF
}

# The ingress geoblock, as `nft-geo-filter --table-family netdev --interface eth0
# --allow` lays it out (private-range and link-local exceptions, non-IP such as
# ARP passes), plus what its admin had to add by hand: ingress runs before
# conntrack, so replies cannot be recognised as such. The server's own certbot
# talks to the CA's ACME API, whose answers come from tcp port 14000; and
# neighbour discovery from the router's global address must pass for IPv6.
# The server resolves nothing (the ACME URL is an address), so no DNS exception.
world_geoblock_ingress() {
	world_exec "$1" srv nft -f - <<EOF
table netdev geo-filter {
	set filter-v4 {
		type ipv4_addr
		flags interval
		auto-merge
		elements = { 198.51.100.0/24 }
	}
	set filter-v6 {
		type ipv6_addr
		flags interval
		auto-merge
		elements = { 2001:db8:100::/48 }
	}
	chain filter-chain {
		type filter hook ingress device "eth0" priority -190; policy drop;
		ip saddr $WORLD_CA4 tcp sport $WORLD_ACME_PORT accept
		ip6 saddr $WORLD_CA6 tcp sport $WORLD_ACME_PORT accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ip6 saddr fe80::/10 accept
		ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } accept
		meta protocol != { ip, ip6 } accept
		ip saddr @filter-v4 accept
		ip6 saddr @filter-v6 accept
	}
}
EOF
}

# world_http_status PREFIX NODE URL: the HTTP status code, or 000 (2 s timeout).
world_http_status() {
	world_exec "$1" "$2" env -u http_proxy -u https_proxy -u all_proxy \
		curl -s -o /dev/null -m 2 -w '%{http_code}' "$3"
}

world_nginx_conf() {
	local dir=$1 webroot=$2
	cat <<EOF
# nginx for acmegate's test world: serves $webroot on port 80, both families.
daemon off;
master_process on;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log info;
events { worker_connections 64; }
http {
	log_format world '\$remote_addr "\$request" \$status \$body_bytes_sent "\$http_user_agent"';
	access_log $dir/nginx-access.log world;
	client_body_temp_path $dir/nginx-tmp/body;
	proxy_temp_path $dir/nginx-tmp/proxy;
	fastcgi_temp_path $dir/nginx-tmp/fastcgi;
	uwsgi_temp_path $dir/nginx-tmp/uwsgi;
	scgi_temp_path $dir/nginx-tmp/scgi;
	default_type text/plain;
	server {
		listen 80;
		listen [::]:80 ipv6only=on;
		root $webroot;
	}
}
EOF
}

# world_nginx PREFIX WEBROOT: nginx in srv; access log at WORLD_DIR/nginx-access.log.
world_nginx() {
	local prefix=$1 webroot=$2 dir
	dir=$(world_dir "$prefix")
	mkdir -p "$dir/nginx-tmp" "$webroot" || return 1
	world_nginx_conf "$dir" "$webroot" >"$dir/nginx.conf"
	world_exec "$prefix" srv nginx -t -q -p "$dir" -e "$dir/nginx-error.log" \
		-c "$dir/nginx.conf" || world_fail "nginx rejected $dir/nginx.conf" || return 1
	world_spawn "$prefix" srv nginx nginx -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf"
	world_wait_for 5 "nginx on $WORLD_SRV4:80" world_nginx_answers "$prefix" ||
		{ world_tail "$dir/nginx-error.log"; return 1; }
}

world_nginx_answers() {
	[ "$(world_http_status "$1" srv "http://$WORLD_SRV4/")" != 000 ] &&
		[ "$(world_http_status "$1" srv "http://[$WORLD_SRV6]/")" != 000 ]
}

# A throwaway CA and a leaf for Pebble's API (name, both addresses), valid 2 days.
world_pebble_tls() {
	local dir=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=acmegate test world root" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$dir/tls-ca.key" -out "$dir/tls-ca.pem" 2>/dev/null || return 1
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=pebble.test" -keyout "$dir/pebble-key.pem" -out "$dir/pebble.csr" \
		2>/dev/null || return 1
	cat >"$dir/pebble-ext.cnf" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:pebble.test,IP:$WORLD_CA4,IP:$WORLD_CA6
EOF
	openssl x509 -req -days 2 -in "$dir/pebble.csr" -CA "$dir/tls-ca.pem" \
		-CAkey "$dir/tls-ca.key" -CAcreateserial -extfile "$dir/pebble-ext.cnf" \
		-out "$dir/pebble-cert.pem" 2>/dev/null
}

world_pebble_conf() {
	local dir=$1
	cat <<EOF
{
  "pebble": {
    "listenAddress": ":$WORLD_ACME_PORT",
    "managementListenAddress": "127.0.0.1:15000",
    "certificate": "$dir/pebble-cert.pem",
    "privateKey": "$dir/pebble-key.pem",
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
}

# world_pebble PREFIX: pebble-challtestsrv (DNS only, no default answers, so a
# name has exactly the records world_dns gives it) and Pebble using it as DNS.
# The CA bundle for Pebble's API is WORLD_DIR/tls-ca.pem; the API is
# https://203.0.113.5:14000/dir.
world_pebble() {
	local prefix=$1 dir
	dir=$(world_dir "$prefix")
	world_pebble_tls "$dir" || world_fail "openssl could not make Pebble's certificate" || return 1
	world_pebble_conf "$dir" >"$dir/pebble.json"
	world_spawn "$prefix" ca challtestsrv pebble-challtestsrv \
		-management "$WORLD_CTS_MGMT" -dns01 "$WORLD_CTS_DNS" \
		-http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 "" -defaultIPv6 ""
	world_wait_for 5 "challtestsrv management API" world_cts_post "$prefix" clear-a \
		'{"host":"ready.test"}' || { world_tail "$dir/challtestsrv.log"; return 1; }
	world_spawn "$prefix" ca pebble env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		PEBBLE_AUTHZREUSE=0 pebble -config "$dir/pebble.json" \
		-dnsserver "${WORLD_PEBBLE_DNS:-$WORLD_CTS_DNS}"
	world_wait_for 10 "Pebble's directory" world_pebble_answers "$prefix" ||
		{ world_tail "$dir/pebble.log"; return 1; }
}

world_pebble_answers() {
	local dir
	dir=$(world_dir "$1")
	world_exec "$1" ca env -u http_proxy -u https_proxy -u all_proxy curl -fsS -m 2 \
		--cacert "$dir/tls-ca.pem" "https://$WORLD_CA4:$WORLD_ACME_PORT/dir"
}

# world_cts_post PREFIX ENDPOINT JSON: one call to challtestsrv's management API.
world_cts_post() {
	world_exec "$1" ca env -u http_proxy -u https_proxy -u all_proxy \
		curl -fsS -m 2 -X POST -d "$3" "http://$WORLD_CTS_MGMT/$2"
}

# world_dns PREFIX NAME 4|6|46: NAME gets the server's A record, AAAA record or
# both (Pebble dials the first AAAA if there is one, else the first A).
world_dns() {
	local prefix=$1 name=$2 fams=$3
	world_cts_post "$prefix" clear-a "{\"host\":\"$name\"}" >/dev/null || return 1
	world_cts_post "$prefix" clear-aaaa "{\"host\":\"$name\"}" >/dev/null || return 1
	case "$fams" in
	*4*) world_cts_post "$prefix" add-a \
		"{\"host\":\"$name\",\"addresses\":[\"$WORLD_SRV4\"]}" >/dev/null || return 1 ;;
	esac
	case "$fams" in
	*6*) world_cts_post "$prefix" add-aaaa \
		"{\"host\":\"$name\",\"addresses\":[\"$WORLD_SRV6\"]}" >/dev/null || return 1 ;;
	esac
}

# world_tail FILE [LINES]: the end of a log, as TAP comments.
world_tail() {
	local file=$1 lines=${2:-20}
	if [ -r "$file" ]; then
		printf '# --- last %s lines of %s\n' "$lines" "$file"
		tail -n "$lines" "$file" | sed 's/^/#   /'
	else
		printf '# --- (no %s)\n' "$file"
	fi
}
