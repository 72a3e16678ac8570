# shellcheck shell=bash
# gate.sh: helpers for tests that drive acmegate inside the test world (root; namespaces only).
ACMEGATE_BIN=${ACMEGATE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/acmegate}
TOKEN=Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0czE   # 43 base64url characters

# gate_world NAME: the test world for one test file, its prefix in $P; removed on exit.
gate_world() {
	tap_require_root
	P=$1$$
	P=${P:0:10}
	trap 'world_down $P' EXIT
	world_up "$P" >/dev/null || tap_skip_all "cannot build the test world"
}

# gate_conf PREFIX [KEY=VALUE ...]: a config with a private state dir; prints its path.
gate_conf() {
	local prefix=$1 dir conf kv
	shift
	dir=$(world_dir "$prefix")
	conf="$dir/acmegate.conf"
	{ echo "[gate]"; echo "state_dir = $dir/state"
	  for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } >"$conf"
	echo "$conf"
}

# gate PREFIX ARGS...: runs acmegate in the server namespace with the test config.
gate() {
	local prefix=$1
	shift
	world_exec "$prefix" srv "$ACMEGATE_BIN" -c "$(world_dir "$prefix")/acmegate.conf" "$@"
}

# gate_webroot PREFIX: a webroot with one challenge file and an ordinary page.
gate_webroot() {
	local root
	root="$(world_dir "$1")/webroot"
	mkdir -p "$root/.well-known/acme-challenge"
	echo "$TOKEN.keyauth" >"$root/.well-known/acme-challenge/$TOKEN"
	echo "private page" >"$root/index.html"
	echo "$root"
}

# fetch PREFIX NODE URL [CURL ARGS]: "http:CODE:BODY", "reset", "timeout", "refused" or "curl:N".
fetch() {
	local prefix=$1 node=$2 url=$3 out rc
	shift 3
	out=$(world_exec "$prefix" "$node" curl -sS -g --path-as-is --connect-timeout 2 -m 4 \
		-w '\n%{http_code}' "$@" "$url" 2>/dev/null)
	rc=$?
	case $rc in
	0) printf 'http:%s:%s\n' "$(printf '%s' "$out" | tail -n1)" "$(printf '%s' "$out" | head -n1)" ;;
	56 | 52) echo reset ;;
	28) echo timeout ;;
	7) echo refused ;;
	*) echo "curl:$rc" ;;
	esac
}

# ruleset PREFIX: the server's ruleset, for before/after comparisons.
ruleset() { world_exec "$1" srv nft list ruleset; }
# our_rules PREFIX: how many rules carry acmegate's comment.
our_rules() { world_exec "$1" srv nft list ruleset | grep -c 'comment "acmegate:'; }
