# shellcheck shell=bash
# tap.sh: minimal TAP for the bash tests: plan, ok/not ok with a diagnostic, skip.
TAP_N=0
TAP_FAILED=0
tap_plan() { echo "1..$1"; }
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
tap_not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
tap_diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# tap_is GOT WANT NAME
tap_is() {
	if [ "$1" = "$2" ]; then tap_ok "$3"; else tap_not_ok "$3"; tap_diag "got:  '$1'" "want: '$2'"; fi
}
# tap_like GOT PATTERN NAME (grep -E)
tap_like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then tap_ok "$3"; else
		tap_not_ok "$3"; tap_diag "got: '$1'" "want match: '$2'"; fi
}
tap_require_root() { [ "$(id -u)" = 0 ] || tap_skip_all "needs root (network namespaces, nftables)"; }
