#!/usr/bin/env bash
# bench/redblack_baseline.sh APP_DIR WORK_DIR - the baseline of the
# red/black figure: the same steps done by hand from a plain script. v1 (3
# processes of the test web app) runs behind HAProxy; timed: start 3 v2
# processes, wait until each answers /health 200, switch HAProxy to them
# (reload with the new servers), stop v1. Prints the seconds it took.
set -u
APP=$1/app.py
WORK=$2
mkdir -p "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LB=$(free_port)
PIDS=()
start_group() { # VERSION PORT... -> sets PORTS
	local v=$1
	shift
	PORTS=("$@")
	for p in "$@"; do
		PORT=$p VERSION=$v setsid python3 "$APP" >"$WORK/app-$p.log" 2>&1 &
		PIDS+=($!)
	done
}
wait_healthy() {
	for p in "${PORTS[@]}"; do
		until curl -fs -o /dev/null "http://127.0.0.1:$p/health"; do sleep 0.02; done
	done
}
haproxy_cfg() {
	{
		printf 'global\n  pidfile %s/haproxy.pid\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n' "$WORK"
		printf 'frontend fe\n  bind 127.0.0.1:%s\n  default_backend be\nbackend be\n  option httpchk GET /health\n' "$LB"
		for p in "${PORTS[@]}"; do printf '  server s%s 127.0.0.1:%s check inter 500\n' "$p" "$p"; done
	} >"$WORK/haproxy.cfg"
}
cleanup() {
	[ -f "$WORK/haproxy.pid" ] && kill "$(cat "$WORK/haproxy.pid")" 2>/dev/null
	for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null; kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

start_group v1 $(free_port) $(free_port) $(free_port)
wait_healthy
haproxy_cfg
haproxy -D -f "$WORK/haproxy.cfg" || exit 1
OLD=("${PIDS[@]}")
until curl -fs -o /dev/null "http://127.0.0.1:$LB/"; do sleep 0.02; done

P1=$(free_port) P2=$(free_port) P3=$(free_port)
t0=$(date +%s%N)
start_group v2 "$P1" "$P2" "$P3"
wait_healthy
haproxy_cfg
haproxy -D -f "$WORK/haproxy.cfg" -sf "$(cat "$WORK/haproxy.pid")" || exit 1
until curl -fs "http://127.0.0.1:$LB/" | grep -q v2; do sleep 0.02; done
for p in "${OLD[@]}"; do kill -- "-$p" 2>/dev/null; done
t1=$(date +%s%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
