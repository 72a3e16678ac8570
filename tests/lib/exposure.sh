# shellcheck shell=bash
# tests/lib/exposure.sh: the end-to-end tests report each issuance's exposure here, for
# bench/exposure. A no-op unless EXPOSURE_TABLE names a file.
#
#   exposure_now_ms                         milliseconds since the epoch
#   exposure_last_open_ms STATE_DIR         open_ms of the last window in STATE_DIR/exposure.log
#   exposure_record CLIENT MODE OPEN_MS RUN_MS   appends "CLIENT<TAB>MODE<TAB>OPEN_MS<TAB>RUN_MS"

exposure_now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }

exposure_last_open_ms() {
	tail -n 1 "$1/exposure.log" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["open_ms"])' 2>/dev/null
}

exposure_record() {
	[ -n "${EXPOSURE_TABLE:-}" ] || return 0
	case "$3:$4" in *[!0-9:]* | :* | *:) return 0 ;; esac
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$EXPOSURE_TABLE"
}
