# shellcheck shell=bash
# tests/lib/mpworld.sh: a multi-perspective world on top of world.sh, for `acmegate check`.
#
# Everything lives in the namespaces of one PREFIX (root needed); nothing touches the
# host's network. world.sh's four nodes (rt, srv, home, ca) plus:
#
#   PREFIX-aI    (I = 1..N, N 5..8) a perspective agent, link "to-aI" on the router
#                198.18.I.2/24 (router 198.18.I.1), 2001:db8:a0I::2/64 (router ::1)
#                its egress delayed (MPW_DELAYS, ms) by a userspace delay line in PREFIX-dI
#                (this kernel has no sch_netem; see mpw_agent_link), a RIR label (MPW_RIRS)
#   PREFIX-dns   the DNS "Internet", link "to-dns" 198.19.0.0/24, 2001:db8:ff00::/64;
#                three knotd instances, each on its own addresses:
#                  root "."        198.19.0.2  2001:db8:ff00::2  (a.root.test, on eth0)
#                  TLD "test."     198.19.1.2  2001:db8:ff01::2  (a.tld.test, on lo)
#                  "site.test."    198.19.3.2  2001:db8:ff03::2  (ns.site.test, on lo)
#                (the router routes 198.19.1.0/24, 198.19.3.0/24 and their /64s via .2)
#   PREFIX-ns2   secondary for example.test, link "to-ns2" 198.19.2.2, 2001:db8:ff02::2
#   PREFIX-srv   additionally runs the primary for example.test (ns1.example.test) on
#                192.0.2.10@53 and 2001:db8:10::10@53, NOTIFY + AXFR/IXFR to ns2
#
# Zones: test. delegates site.test. (www A/AAAA -> srv, v4only A only, CAA via
# mpw_site_caa) and example.test. (ns1 = srv, ns2 = PREFIX-ns2; www A/AAAA -> srv;
# _acme-challenge TXT via mpw_txt_set). Note: world_geoblock on srv also drops ns2's
# transfers unless mpw_geoblock_allow_ns2 is called afterwards.
#
# Functions (PREFIX as in world.sh):
#   mpw_up PREFIX N              world_up + N agents + DNS tree; checks reachability
#   mpw_down PREFIX              kills everything, deletes every namespace (idempotent)
#   mpw_rir PREFIX I             the RIR label of agent I (ARIN, RIPE, ...)
#   mpw_perspective PREFIX I     its perspective name, e.g. a2-ripe
#   mpw_agent_addr4 I / mpw_agent_addr6 I   the agent's addresses
#   mpw_agents PREFIX            the agent numbers of this world (1..N)
#   mpw_root_hints PREFIX        path of a world-readable root hints file
#   mpw_dns_wait PREFIX          waits until all five DNS servers answer their zone
#   mpw_resolve PREFIX NODE NAME TYPE   iterative resolution from NODE (root -> ...)
#   mpw_txt_set PREFIX VALUE     _acme-challenge.example.test TXT on the primary (+ ns2)
#   mpw_txt_clear PREFIX         removes that TXT
#   mpw_lag_secondary PREFIX on|off   ns2 stops / resumes taking updates from srv
#   mpw_site_caa PREFIX VALUE|off     site.test CAA 0 issue "VALUE", or none
#   mpw_geoblock_allow_ns2 PREFIX     lets ns2 (transfers) through world_geoblock's sets
#   mpw_block_rir PREFIX RIR     router drops that region's agents -> srv (both families)
#   mpw_block_v6 PREFIX          router drops IPv6 from every agent -> srv
#   mpw_unblock PREFIX           removes all of the above (table inet mpw in rt)
#   mpw_agents_start PREFIX BIN [EXTRA_CONF_LINES]   acmegate-agent in every agent
#   mpw_client_conf PREFIX       [perspective NAME] sections for acmegate's config
#   mpw_nginx PREFIX plain|https-redirect|wrongbody|stop   nginx in srv, port 80
#
# Knobs: MPW_DELAYS="20 60 ..." (ms per agent), MPW_RIRS="ARIN RIPE ...",
# MPW_DIAL_MS (agent dial_timeout_ms, default 3000). MPW_WEBROOT is exported by mpw_up.

# shellcheck source=world.sh
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"

MPW_DEFAULT_DELAYS="20 60 100 150 200 250 300 120"
MPW_DEFAULT_RIRS="ARIN RIPE APNIC LACNIC AFRINIC RIPE ARIN APNIC"
MPW_ROOT4=198.19.0.2
MPW_ROOT6=2001:db8:ff00::2
MPW_TLD4=198.19.1.2
MPW_TLD6=2001:db8:ff01::2
MPW_SITE4=198.19.3.2
MPW_SITE6=2001:db8:ff03::2
MPW_NS24=198.19.2.2
MPW_NS26=2001:db8:ff02::2
MPW_AGENT_PORT=8443
MPW_ALL_NODES="rt srv home ca dns ns2 a1 a2 a3 a4 a5 a6 a7 a8 d1 d2 d3 d4 d5 d6 d7 d8"

mpw_log() { printf '# mpworld: %s\n' "$*" >&2; }
mpw_fail() { printf '# mpworld: ERROR: %s\n' "$*" >&2; return 1; }

mpw_agent_addr4() { printf '198.18.%s.2\n' "$1"; }
mpw_agent_addr6() { printf '2001:db8:a0%s::2\n' "$1"; }

# The n-th word (1-based) of a list.
mpw_nth() {
	local n=$1
	shift
	# shellcheck disable=SC2086
	set -- $*
	[ "$n" -ge 1 ] && [ "$n" -le $# ] || return 1
	eval "printf '%s\n' \"\${$n}\""
}

mpw_agent_count() {
	local f
	f="$(world_dir "$1")/mpw-agents"
	[ -r "$f" ] || mpw_fail "no multi-perspective world '$1' (mpw_up first)" || return 1
	cat "$f"
}
mpw_agents() {
	local n
	n=$(mpw_agent_count "$1") || return 1
	seq 1 "$n"
}
mpw_rir() { mpw_nth "$2" "${MPW_RIRS:-$MPW_DEFAULT_RIRS}" || mpw_fail "no RIR for agent $2"; }
mpw_delay() { mpw_nth "$1" "${MPW_DELAYS:-$MPW_DEFAULT_DELAYS}" || mpw_fail "no delay for agent $1"; }
mpw_perspective() {
	local rir
	rir=$(mpw_rir "$1" "$2") || return 1
	printf 'a%s-%s\n' "$2" "$(printf '%s' "$rir" | tr 'A-Z' 'a-z')"
}

mpw_down() {
	world_check_prefix "$1" || return 1
	mpw_nginx_stop "$1" 2>/dev/null
	WORLD_NODES=$MPW_ALL_NODES world_down "$1"
}

# mpw_node_add PREFIX NODE: a fresh namespace, lo up, no DAD.
mpw_node_add() {
	local ns
	ns=$(world_ns "$1" "$2")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	world_sysctl "$1" "$2" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

mpw_up() {
	local prefix=$1 n=$2 i rir delay dir ns rt a
	world_check_prefix "$prefix" || return 1
	case "$n" in [5-8]) ;; *) mpw_fail "mpw_up: N must be 5..8, got '$n'"; return 1 ;; esac
	for i in $(seq 1 "$n"); do
		rir=$(mpw_rir "$prefix" "$i") || return 1
		delay=$(mpw_delay "$i") || return 1
		case "$delay" in '' | *[!0-9]*) mpw_fail "bad delay '$delay' for agent $i"; return 1 ;; esac
		case "$rir" in ARIN | RIPE | APNIC | LACNIC | AFRINIC) ;;
		*) mpw_fail "bad RIR '$rir' for agent $i"; return 1 ;; esac
	done
	mpw_down "$prefix"
	world_up "$prefix" || mpw_fail "world_up $prefix failed" || return 1
	dir=$(world_dir "$prefix")
	# agents drop to nobody: let them traverse the world dir to their public files
	chmod 711 "$dir" || return 1
	mkdir -p -m 755 "$dir/mpw-pub" || return 1
	echo "$n" >"$dir/mpw-agents"
	rt=$(world_ns "$prefix" rt)
	for i in $(seq 1 "$n"); do
		mpw_node_add "$prefix" "a$i" || return 1
		mpw_node_add "$prefix" "d$i" || return 1
		mpw_agent_link "$prefix" "$i" || mpw_fail "link for agent a$i" || return 1
	done
	mpw_node_add "$prefix" dns || return 1
	world_link "$prefix" dns to-dns 198.19.0 "$MPW_ROOT4" 2001:db8:ff00 "$MPW_ROOT6" || return 1
	ns=$(world_ns "$prefix" dns)
	for a in "$MPW_TLD4/32" "$MPW_SITE4/32"; do ip -n "$ns" addr add "$a" dev lo || return 1; done
	for a in "$MPW_TLD6/128" "$MPW_SITE6/128"; do ip -n "$ns" addr add "$a" dev lo nodad || return 1; done
	ip -n "$rt" route add 198.19.1.0/24 via "$MPW_ROOT4" || return 1
	ip -n "$rt" route add 198.19.3.0/24 via "$MPW_ROOT4" || return 1
	ip -n "$rt" -6 route add 2001:db8:ff01::/64 via "$MPW_ROOT6" || return 1
	ip -n "$rt" -6 route add 2001:db8:ff03::/64 via "$MPW_ROOT6" || return 1
	mpw_node_add "$prefix" ns2 || return 1
	world_link "$prefix" ns2 to-ns2 198.19.2 "$MPW_NS24" 2001:db8:ff02 "$MPW_NS26" || return 1
	mpw_check_routes "$prefix" || return 1
	MPW_WEBROOT="$dir/mpw-webroot"
	export MPW_WEBROOT
	mkdir -p "$MPW_WEBROOT/.well-known/acme-challenge" || return 1
	mpw_dns_up "$prefix" || return 1
	mpw_dns_wait "$prefix"
}

# ---------------------------------------------------------------- agent links and delay
#
# This kernel has no sch_netem (nor fq for EDT), so the delay is a userspace delay
# line: PREFIX-dI is a namespace without addresses (IPv6 and ARP off) between
# the router and the agent:
#
#   PREFIX-rt to-aI <--veth--> wan0 [PREFIX-dI: relay] dl0 <--veth--> eth0 PREFIX-aI
#
# The relay (packet sockets with virtio-net headers, so checksum offload and GSO
# pass intact) forwards router -> agent frames at once and agent -> router frames
# after the agent's delay: the agent's egress is delayed, as `netem delay` on
# its eth0 would do.

mpw_agent_link() {
	local prefix=$1 i=$2 rt ns dl a4 a6 ifc dir
	rt=$(world_ns "$prefix" rt)
	ns=$(world_ns "$prefix" "a$i")
	dl=$(world_ns "$prefix" "d$i")
	dir=$(world_dir "$prefix")
	a4=$(mpw_agent_addr4 "$i")
	a6=$(mpw_agent_addr6 "$i")
	world_sysctl "$prefix" "d$i" net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || return 1
	ip -n "$rt" link add "to-a$i" type veth peer name wan0 netns "$dl" || return 1
	ip -n "$dl" link add dl0 type veth peer name eth0 netns "$ns" || return 1
	for ifc in wan0 dl0; do
		ip -n "$dl" link set "$ifc" arp off promisc on up || return 1
	done
	ip -n "$rt" addr add "198.18.$i.1/24" dev "to-a$i" || return 1
	ip -n "$rt" addr add "2001:db8:a0$i::1/64" dev "to-a$i" nodad || return 1
	ip -n "$ns" addr add "$a4/24" dev eth0 || return 1
	ip -n "$ns" addr add "$a6/64" dev eth0 nodad || return 1
	ip -n "$rt" link set "to-a$i" up || return 1
	ip -n "$ns" link set eth0 up || return 1
	ip -n "$ns" route add default via "198.18.$i.1" || return 1
	ip -n "$ns" -6 route add default via "2001:db8:a0$i::1" || return 1
	mpw_delay_py >"$dir/mpw-delay.py" || return 1
	world_spawn "$prefix" "d$i" "delay-a$i" python3 "$dir/mpw-delay.py" wan0 dl0 "$(mpw_delay "$i")"
	world_wait_for 5 "delay line of a$i" grep -q '^ready' "$dir/delay-a$i.log" ||
		{ world_tail "$dir/delay-a$i.log" >&2; return 1; }
}

mpw_delay_py() {
	cat <<'EOF'
# mpworld delay line: WAN_IF LAN_IF DELAY_MS. Frames from WAN go to LAN at once,
# frames from LAN go to WAN DELAY_MS later, in order.
import collections, select, socket, sys, time
wan_if, lan_if, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000.0
ETH_P_ALL, SOL_PACKET, PACKET_VNET_HDR, PACKET_OUTGOING = 3, 263, 15, 4

def sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s

wan, lan = sock(wan_if), sock(lan_if)
queue = collections.deque()
print("ready", flush=True)

def pump(src, handle):
    while True:
        try:
            data, addr = src.recvfrom(70000)
        except BlockingIOError:
            return
        if addr[2] != PACKET_OUTGOING:
            handle(data)

def send(dst, data):
    try:
        dst.send(data)
    except OSError as e:
        print("send:", e, flush=True)

while True:
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        send(wan, queue.popleft()[1])
    timeout = max(0.0, queue[0][0] - now) if queue else None
    ready, _, _ = select.select([wan, lan], [], [], timeout)
    if wan in ready:
        pump(wan, lambda d: send(lan, d))
    if lan in ready:
        t = time.monotonic() + delay
        pump(lan, lambda d: queue.append((t, d)))
EOF
}

# Every new node reaches srv's closed port 9 (refused = the path works both ways),
# and a1 the DNS addresses behind the dns node; probed in parallel.
mpw_check_routes() {
	local prefix=$1 node addr out
	out=$(
		for node in $(mpw_agents "$prefix" | sed 's/^/a/') dns ns2; do
			for addr in "$WORLD_SRV4" "$WORLD_SRV6"; do
				mpw_expect_refused "$prefix" "$node" "$addr" &
			done
		done
		for addr in "$MPW_TLD4" "$MPW_SITE6"; do mpw_expect_refused "$prefix" a1 "$addr" & done
		wait
	)
	[ -z "$out" ] || { printf '%s\n' "$out" >&2; return 1; }
}
mpw_expect_refused() {
	local got
	got=$(world_tcp_probe "$1" "$2" "$3" 9)
	[ "$got" = refused ] ||
		printf '# mpworld: ERROR: %s -> %s: expected a refused connection, got %s\n' "$2" "$3" "$got"
}

# ---------------------------------------------------------------- DNS

mpw_soa() { printf '@ SOA %s hostmaster.test. 1 60 10 3600 30\n' "$1"; }

mpw_zone_root() {
	cat <<EOF
\$ORIGIN .
\$TTL 3600
$(mpw_soa a.root.test.)
@ NS a.root.test.
a.root.test. A $MPW_ROOT4
a.root.test. AAAA $MPW_ROOT6
test. NS a.tld.test.
a.tld.test. A $MPW_TLD4
a.tld.test. AAAA $MPW_TLD6
EOF
}

mpw_zone_tld() {
	cat <<EOF
\$ORIGIN test.
\$TTL 3600
$(mpw_soa a.tld.test.)
@ NS a.tld.test.
a.tld A $MPW_TLD4
a.tld AAAA $MPW_TLD6
a.root A $MPW_ROOT4
a.root AAAA $MPW_ROOT6
site NS ns.site.test.
ns.site A $MPW_SITE4
ns.site AAAA $MPW_SITE6
example NS ns1.example.test.
example NS ns2.example.test.
ns1.example A $WORLD_SRV4
ns1.example AAAA $WORLD_SRV6
ns2.example A $MPW_NS24
ns2.example AAAA $MPW_NS26
EOF
}

mpw_zone_site() {
	cat <<EOF
\$ORIGIN site.test.
\$TTL 60
$(mpw_soa ns.site.test.)
@ NS ns.site.test.
ns A $MPW_SITE4
ns AAAA $MPW_SITE6
www A $WORLD_SRV4
www AAAA $WORLD_SRV6
v4only A $WORLD_SRV4
EOF
}

mpw_zone_example() {
	cat <<EOF
\$ORIGIN example.test.
\$TTL 30
$(mpw_soa ns1.example.test.)
@ NS ns1.example.test.
@ NS ns2.example.test.
ns1 A $WORLD_SRV4
ns1 AAAA $WORLD_SRV6
ns2 A $MPW_NS24
ns2 AAAA $MPW_NS26
www A $WORLD_SRV4
www AAAA $WORLD_SRV6
EOF
}

# mpw_knot_conf DIR ADDR4 ADDR6 ZONE ROLE: one knotd's config (ROLE: plain, primary, secondary).
mpw_knot_conf() {
	local d=$1 a4=$2 a6=$3 zone=$4 role=$5
	cat <<EOF
server:
    rundir: "$d"
    listen: [ $a4@53, $a6@53 ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$d/db"
control:
    listen: "$d/knot.sock"
EOF
	case "$role" in
	primary) cat <<EOF
remote:
  - id: ns2
    address: [ $MPW_NS24@53 ]
acl:
  - id: ns2-xfr
    address: [ $MPW_NS24, $MPW_NS26 ]
    action: transfer
EOF
	;;
	secondary) cat <<EOF
remote:
  - id: ns1
    address: [ $WORLD_SRV4@53 ]
acl:
  - id: ns1-notify
    address: [ $WORLD_SRV4, $WORLD_SRV6 ]
    action: notify
EOF
	;;
	esac
	cat <<EOF
zone:
  - domain: "$zone"
    storage: "$d"
    file: "zone.db"
    zonefile-sync: -1
    journal-content: changes
EOF
	case "$role" in
	primary) printf '    notify: ns2\n    acl: ns2-xfr\n' ;;
	secondary) printf '    master: ns1\n    acl: ns1-notify\n' ;;
	esac
}

# mpw_knot_start PREFIX NODE NAME ADDR4 ADDR6 ZONE ROLE ZONEFUNC
mpw_knot_start() {
	local prefix=$1 node=$2 name=$3 a4=$4 a6=$5 zone=$6 role=$7 zf=$8 d
	d="$(world_dir "$prefix")/knot-$name"
	mkdir -p "$d/db" || return 1
	[ -n "$zf" ] && { "$zf" >"$d/zone.db" || return 1; }
	mpw_knot_conf "$d" "$a4" "$a6" "$zone" "$role" >"$d/knot.conf"
	knotc -c "$d/knot.conf" conf-check >/dev/null 2>&1 ||
		mpw_fail "knot rejects $d/knot.conf: $(knotc -c "$d/knot.conf" conf-check 2>&1 | tail -1)" ||
		return 1
	world_spawn "$prefix" "$node" "knot-$name" knotd -c "$d/knot.conf"
}

mpw_knotc() {
	local prefix=$1 name=$2
	shift 2
	knotc -s "$(world_dir "$prefix")/knot-$name/knot.sock" -t 5 "$@"
}

mpw_dns_up() {
	local p=$1
	mpw_knot_start "$p" dns root "$MPW_ROOT4" "$MPW_ROOT6" . plain mpw_zone_root &&
		mpw_knot_start "$p" dns tld "$MPW_TLD4" "$MPW_TLD6" test. plain mpw_zone_tld &&
		mpw_knot_start "$p" dns site "$MPW_SITE4" "$MPW_SITE6" site.test. plain mpw_zone_site &&
		mpw_knot_start "$p" srv ns1 "$WORLD_SRV4" "$WORLD_SRV6" example.test. primary mpw_zone_example &&
		mpw_knot_start "$p" ns2 ns2 "$MPW_NS24" "$MPW_NS26" example.test. secondary "" ||
		mpw_fail "could not start knotd"
	local f
	f="$(world_dir "$p")/mpw-pub/root.hints"
	{
		printf '.\t3600000\tNS\ta.root.test.\n'
		printf 'a.root.test.\t3600000\tA\t%s\n' "$MPW_ROOT4"
		printf 'a.root.test.\t3600000\tAAAA\t%s\n' "$MPW_ROOT6"
	} >"$f" && chmod 644 "$f"
}

mpw_root_hints() { printf '%s/mpw-pub/root.hints\n' "$(world_dir "$1")"; }

# mpw_kdig PREFIX NODE ARGS...: kdig without recursion, 1 s, one try.
mpw_kdig() {
	local prefix=$1 node=$2
	shift 2
	world_exec "$prefix" "$node" kdig +norec +time=1 +retry=0 "$@"
}

# An authoritative SOA answer for ZONE from SERVER (asked from the router).
mpw_soa_ok() {
	mpw_kdig "$1" rt "@$2" "$3" SOA | grep -q 'Flags: qr aa;.*ANSWER: 1;'
}

mpw_dns_wait() {
	local p=$1 s z f
	for s in "$MPW_ROOT4 ." "$MPW_ROOT6 ." "$MPW_TLD4 test." "$MPW_TLD6 test." \
		"$MPW_SITE4 site.test." "$MPW_SITE6 site.test." "$WORLD_SRV4 example.test." \
		"$WORLD_SRV6 example.test." "$MPW_NS24 example.test." "$MPW_NS26 example.test."; do
		z=${s#* }
		world_wait_for 10 "DNS $z at ${s%% *}" mpw_soa_ok "$p" "${s%% *}" "$z" ||
			{ for f in "$(world_dir "$p")"/knot-*.log; do world_tail "$f" 8 >&2; done; return 1; }
	done
}

# mpw_resolve PREFIX NODE NAME TYPE: walks from the root like a resolver (no
# recursion asked, glue followed, IPv4 servers); prints the answer's rdata, sorted.
mpw_resolve() {
	local prefix=$1 node=$2 name=$3 type=$4 server=$MPW_ROOT4 hops=0 out ans ns
	while [ "$hops" -lt 8 ]; do
		out=$(mpw_kdig "$prefix" "$node" "@$server" +noall +answer +authority +additional \
			+nottl +noclass "$name" "$type") || return 1
		ans=$(printf '%s\n' "$out" | awk -v n="${name%.}." -v t="$type" \
			'tolower($1) == tolower(n) && $2 == t { $1 = ""; $2 = ""; sub(/^  /, ""); print }')
		if [ -n "$ans" ]; then
			printf '%s\n' "$ans" | sort
			return 0
		fi
		ns=$(printf '%s\n' "$out" | awk '$2 == "NS" { print $3 }' | head -1)
		[ -n "$ns" ] || return 1
		server=$(printf '%s\n' "$out" | awk -v n="$ns" '$1 == n && $2 == "A" { print $3 }' | head -1)
		[ -n "$server" ] || return 1
		hops=$((hops + 1))
	done
	return 1
}

# mpw_txt_now PREFIX SERVER: the TXT values at SERVER, sorted, one line. srv's own
# server is asked from srv itself (over lo), which its geoblock lets through.
mpw_asker() { case "$1" in "$WORLD_SRV4" | "$WORLD_SRV6") echo srv ;; *) echo rt ;; esac; }
mpw_txt_now() {
	mpw_kdig "$1" "$(mpw_asker "$2")" "@$2" +short _acme-challenge.example.test TXT | tr -d '"' | sort | paste -sd ' '
}

mpw_txt_set() {
	local prefix=$1 value=$2 dir
	dir=$(world_dir "$prefix")
	case "$value" in *'"'* | *'\'*) mpw_fail "mpw_txt_set: no quotes or backslashes please"; return 1 ;; esac
	mpw_knotc "$prefix" ns1 zone-begin example.test. >/dev/null || mpw_fail "zone-begin on ns1" || return 1
	mpw_knotc "$prefix" ns1 zone-unset example.test. _acme-challenge.example.test. TXT >/dev/null 2>&1
	if ! mpw_knotc "$prefix" ns1 zone-set example.test. _acme-challenge.example.test. 30 TXT \
		"\"$value\"" >/dev/null || ! mpw_knotc "$prefix" ns1 zone-commit example.test. >/dev/null; then
		mpw_knotc "$prefix" ns1 zone-abort example.test. >/dev/null 2>&1
		mpw_fail "could not set the TXT record on ns1"
		return 1
	fi
	world_wait_for 5 "TXT '$value' on ns1" mpw_txt_is "$prefix" "$WORLD_SRV4" "$value" || return 1
	[ -e "$dir/mpw-ns2-lagging" ] && return 0
	world_wait_for 10 "TXT '$value' on ns2" mpw_txt_is "$prefix" "$MPW_NS24" "$value"
}
mpw_txt_is() { [ "$(mpw_txt_now "$1" "$2")" = "$3" ]; }

mpw_txt_clear() {
	local prefix=$1
	mpw_knotc "$prefix" ns1 zone-begin example.test. >/dev/null || return 1
	mpw_knotc "$prefix" ns1 zone-unset example.test. _acme-challenge.example.test. TXT >/dev/null 2>&1
	mpw_knotc "$prefix" ns1 zone-commit example.test. >/dev/null ||
		{ mpw_knotc "$prefix" ns1 zone-abort example.test. >/dev/null 2>&1; return 0; }
	[ -e "$(world_dir "$prefix")/mpw-ns2-lagging" ] && return 0
	world_wait_for 10 "no TXT on ns2" mpw_txt_is "$prefix" "$MPW_NS24" ""
}

# Lagging: ns2 drops everything from srv (the NOTIFY, and the answers to its own
# SOA queries and transfers), so it keeps serving the old data. (knotc zone-freeze
# is asynchronous: a NOTIFY right after it can still be acted on.) Off: the table
# goes, and a refresh brings ns2 up to date at once.
mpw_lag_secondary() {
	local prefix=$1 mode=$2 flag
	flag="$(world_dir "$prefix")/mpw-ns2-lagging"
	case "$mode" in
	on)
		world_exec "$prefix" ns2 nft list table inet mpw-lag >/dev/null 2>&1 ||
			world_exec "$prefix" ns2 nft -f - <<EOF || mpw_fail "cannot make ns2 lag" || return 1
table inet mpw-lag {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr $WORLD_SRV4 drop
		ip6 saddr $WORLD_SRV6 drop
	}
}
EOF
		: >"$flag" ;;
	off)
		if world_exec "$prefix" ns2 nft list table inet mpw-lag >/dev/null 2>&1; then
			world_exec "$prefix" ns2 nft delete table inet mpw-lag || return 1
		fi
		rm -f "$flag"
		mpw_knotc "$prefix" ns2 zone-refresh example.test. >/dev/null ||
			mpw_fail "zone-refresh on ns2" || return 1
		world_wait_for 10 "ns2 to catch up with ns1" mpw_ns2_current "$prefix" ;;
	*) mpw_fail "mpw_lag_secondary: on or off, not '$mode'" ;;
	esac
}
mpw_serial() { mpw_kdig "$1" "$(mpw_asker "$2")" "@$2" +short example.test. SOA | awk '{ print $3 }'; }
mpw_ns2_current() { [ "$(mpw_serial "$1" "$MPW_NS24")" = "$(mpw_serial "$1" "$WORLD_SRV4")" ]; }

# mpw_site_caa PREFIX VALUE|off: site.test CAA 0 issue "VALUE" (replacing any), or none.
mpw_site_caa() {
	local prefix=$1 value=$2
	mpw_knotc "$prefix" site zone-begin site.test. >/dev/null || return 1
	mpw_knotc "$prefix" site zone-unset site.test. site.test. CAA >/dev/null 2>&1
	if [ "$value" != off ]; then
		mpw_knotc "$prefix" site zone-set site.test. site.test. 60 CAA 0 issue "\"$value\"" \
			>/dev/null || { mpw_knotc "$prefix" site zone-abort site.test. >/dev/null 2>&1
			mpw_fail "could not set CAA"; return 1; }
	fi
	mpw_knotc "$prefix" site zone-commit site.test. >/dev/null 2>&1 ||
		mpw_knotc "$prefix" site zone-abort site.test. >/dev/null 2>&1
	return 0
}

mpw_geoblock_allow_ns2() {
	world_exec "$1" srv nft add element inet filter allow4 "{ $MPW_NS24 }" &&
		world_exec "$1" srv nft add element inet filter allow6 "{ $MPW_NS26 }"
}

# ---------------------------------------------------------------- blocking in the router
# Only connections a blocked agent starts towards srv are dropped (its probes): srv's own
# requests to the agent's API, and their answers, still pass, as through a real upstream
# firewall that filters inbound connections.

mpw_block_table() {
	world_exec "$1" rt nft list table inet mpw >/dev/null 2>&1 && return 0
	world_exec "$1" rt nft -f - <<EOF
table inet mpw {
	set blocked4 { type ipv4_addr; flags interval; }
	set blocked6 { type ipv6_addr; flags interval; }
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct direction original ip saddr @blocked4 ip daddr $WORLD_SRV4 drop
		ct direction original ip6 saddr @blocked6 ip6 daddr $WORLD_SRV6 drop
	}
}
EOF
}

mpw_block_rir() {
	local prefix=$1 rir=$2 i hit=0
	mpw_block_table "$prefix" || mpw_fail "cannot load table inet mpw in rt" || return 1
	for i in $(mpw_agents "$prefix"); do
		[ "$(mpw_rir "$prefix" "$i")" = "$rir" ] || continue
		hit=1
		world_exec "$prefix" rt nft add element inet mpw blocked4 "{ $(mpw_agent_addr4 "$i") }" &&
			world_exec "$prefix" rt nft add element inet mpw blocked6 "{ $(mpw_agent_addr6 "$i") }" ||
			return 1
	done
	[ "$hit" = 1 ] || mpw_fail "no agent is labelled '$rir'"
}

# 2001:db8:a00::/40 covers every agent's 2001:db8:a0I::/64.
mpw_block_v6() {
	mpw_block_table "$1" || return 1
	world_exec "$1" rt nft add element inet mpw blocked6 '{ 2001:db8:a00::/40 }'
}

mpw_unblock() {
	world_exec "$1" rt nft list table inet mpw >/dev/null 2>&1 || return 0
	world_exec "$1" rt nft delete table inet mpw
}

# ---------------------------------------------------------------- agents

mpw_secret() {
	local f
	f="$(world_dir "$1")/mpw-secret"
	[ -s "$f" ] || (umask 077 && openssl rand -hex 32 >"$f") || return 1
	cat "$f"
}
mpw_agent_dir() { printf '%s/agent-a%s\n' "$(world_dir "$1")" "$2"; }

mpw_agent_conf() {
	local prefix=$1 i=$2 extra=$3 d
	d=$(mpw_agent_dir "$prefix" "$i")
	cat <<EOF
[agent]
perspective = $(mpw_perspective "$prefix" "$i")
rir = $(mpw_rir "$prefix" "$i")
listen = [::]:$MPW_AGENT_PORT
certificate = $d/cert.pem
private_key = $d/key.pem
user = nobody
root_hints = $(mpw_root_hints "$prefix")
allow_destination = 192.0.2.0/24
allow_destination = 2001:db8::/32
allow_destination = 198.19.0.0/16
allow_destination = 198.18.0.0/15
max_concurrent = 8
rate_per_minute = 600
dial_timeout_ms = ${MPW_DIAL_MS:-3000}
EOF
	[ -n "$extra" ] && printf '%s\n' "$extra"
	printf '[client test]\nsecret = %s\n' "$(mpw_secret "$prefix")"
}

mpw_agent_cert() {
	local prefix=$1 i=$2 d a4 a6
	d=$(mpw_agent_dir "$prefix" "$i")
	a4=$(mpw_agent_addr4 "$i")
	a6=$(mpw_agent_addr6 "$i")
	[ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj "/CN=$a4" -addext "subjectAltName=IP:$a4,IP:$a6" \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null) || return 1
	chmod 600 "$d/key.pem" && chmod 644 "$d/cert.pem"
}

mpw_agent_pid() {
	local dir
	dir=$(world_dir "$1")
	awk -v l="agent-a$2" '$3 == l { p = $1 } END { print p }' "$dir/pids"
}

mpw_agents_start() {
	local prefix=$1 bin=$2 extra=${3:-} dir i d pid log
	dir=$(world_dir "$prefix")
	mpw_agent_count "$prefix" >/dev/null || return 1
	[ -x "$bin" ] || mpw_fail "agent binary '$bin' is not executable" || return 1
	mpw_secret "$prefix" >/dev/null || mpw_fail "cannot make the shared secret" || return 1
	for i in $(mpw_agents "$prefix"); do
		d=$(mpw_agent_dir "$prefix" "$i")
		mkdir -p -m 755 "$d" || return 1
		mpw_agent_cert "$prefix" "$i" || mpw_fail "openssl failed for agent a$i" || return 1
		(umask 077 && mpw_agent_conf "$prefix" "$i" "$extra" >"$d/agent.conf") || return 1
		pid=$(mpw_agent_pid "$prefix" "$i")
		[ -n "$pid" ] && world_alive "$pid" && continue   # already running
		world_spawn "$prefix" "a$i" "agent-a$i" "$bin" -c "$d/agent.conf" --foreground
	done
	for i in $(mpw_agents "$prefix"); do
		log="$dir/agent-a$i.log"
		mpw_agent_wait "$prefix" "$i" && continue
		if grep -q 'not built yet' "$log" 2>/dev/null; then
			mpw_fail "$bin is still the placeholder ('not built yet'): no agent daemon to start"
		else
			mpw_fail "agent a$i did not come up on port $MPW_AGENT_PORT"
			world_tail "$log" >&2
		fi
		return 1
	done
}

# Up to 10 s for the agent's port to accept TCP; gives up at once if it died.
mpw_agent_wait() {
	local prefix=$1 i=$2 pid tries=50
	pid=$(mpw_agent_pid "$prefix" "$i")
	while [ "$tries" -gt 0 ]; do
		[ -n "$pid" ] && world_alive "$pid" || return 1
		[ "$(world_tcp_probe "$prefix" srv "$(mpw_agent_addr4 "$i")" "$MPW_AGENT_PORT")" = open ] &&
			return 0
		sleep 0.2
		tries=$((tries - 1))
	done
	return 1
}

mpw_client_conf() {
	local prefix=$1 i secret
	secret=$(mpw_secret "$prefix") || return 1
	for i in $(mpw_agents "$prefix"); do
		printf '[perspective %s]\nurl = https://%s:%s\nkey_id = test\nsecret = %s\nca_file = %s\n\n' \
			"$(mpw_perspective "$prefix" "$i")" "$(mpw_agent_addr4 "$i")" "$MPW_AGENT_PORT" \
			"$secret" "$(mpw_agent_dir "$prefix" "$i")/cert.pem"
	done
}

# ---------------------------------------------------------------- nginx in srv

mpw_nginx_conf() {
	local dir=$1 mode=$2 body
	case "$mode" in
	plain) body="root $MPW_WEBROOT;" ;;
	https-redirect) body='return 301 https://$host$request_uri;' ;;
	wrongbody) body="root $MPW_WEBROOT;
		location /.well-known/acme-challenge/ { return 200 \"mpworld-wrong-body\\n\"; }" ;;
	esac
	cat <<EOF
# mpworld nginx ($mode): port 80, both families.
daemon off;
master_process on;
worker_processes 1;
user root;
pid $dir/mpw-nginx.pid;
error_log $dir/mpw-nginx-error.log info;
events { worker_connections 64; }
http {
	log_format mpw '\$remote_addr "\$request" \$status \$body_bytes_sent "\$http_user_agent"';
	access_log $dir/mpw-nginx-access.log mpw;
	client_body_temp_path $dir/nginx-tmp/body;
	proxy_temp_path $dir/nginx-tmp/proxy;
	fastcgi_temp_path $dir/nginx-tmp/fastcgi;
	uwsgi_temp_path $dir/nginx-tmp/uwsgi;
	scgi_temp_path $dir/nginx-tmp/scgi;
	default_type text/plain;
	server {
		listen 80;
		listen [::]:80 ipv6only=on;
		$body
	}
}
EOF
}

# The pid of our nginx master (from its pid file), if it is alive, in srv, with our config.
mpw_nginx_pid() {
	local dir pid ino
	dir=$(world_dir "$1")
	pid=$(cat "$dir/mpw-nginx.pid" 2>/dev/null)
	[ -n "$pid" ] && world_alive "$pid" || return 1
	ino=$(world_ns_inode "$(world_ns "$1" srv)") || return 1
	[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-c $dir/mpw-nginx.conf" || return 1
	echo "$pid"
}

mpw_nginx_stop() {
	local pid tries=25
	if pid=$(mpw_nginx_pid "$1"); then
		kill -TERM "$pid" 2>/dev/null
		while world_alive "$pid" && [ "$tries" -gt 0 ]; do sleep 0.2; tries=$((tries - 1)); done
		world_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$(world_dir "$1")/mpw-nginx.pid"
	return 0
}

mpw_nginx() {
	local prefix=$1 mode=$2 dir
	dir=$(world_dir "$prefix")
	[ -d "$dir" ] || mpw_fail "no world '$prefix'" || return 1
	case "$mode" in
	stop) mpw_nginx_stop "$prefix"; return ;;
	plain | https-redirect | wrongbody) ;;
	*) mpw_fail "mpw_nginx: plain, https-redirect, wrongbody or stop, not '$mode'"; return 1 ;;
	esac
	: "${MPW_WEBROOT:=$dir/mpw-webroot}"
	export MPW_WEBROOT
	mkdir -p "$dir/nginx-tmp" "$MPW_WEBROOT/.well-known/acme-challenge" || return 1
	mpw_nginx_stop "$prefix"
	mpw_nginx_conf "$dir" "$mode" >"$dir/mpw-nginx.conf"
	world_exec "$prefix" srv nginx -t -q -p "$dir" -e "$dir/mpw-nginx-error.log" \
		-c "$dir/mpw-nginx.conf" || mpw_fail "nginx rejected $dir/mpw-nginx.conf" || return 1
	world_spawn "$prefix" srv mpw-nginx nginx -p "$dir" -e "$dir/mpw-nginx-error.log" \
		-c "$dir/mpw-nginx.conf"
	world_wait_for 5 "mpworld nginx's pid file" mpw_nginx_pid "$prefix" &&
		world_wait_for 5 "mpworld nginx on port 80" world_nginx_answers "$prefix" ||
		{ world_tail "$dir/mpw-nginx-error.log" >&2; return 1; }
}
