#!/bin/sh
# Three mizzen nodes on one PostgreSQL, on loopback: a throwaway PostgreSQL
# (unix socket in a temp dir), node 1 hosting region east, node 2 west,
# node 3 none. A commit to a git repository polled by all three starts one
# execution; it runs across the nodes, is approved through node 2 and
# watched through node 3; then node 1 is killed with kill -9 and GET /nodes
# shows it dead within the lease, and it comes back.
#   examples/nodes/run.sh        (needs build/mizzen and Debian's postgresql)
# KEEP=1 leaves PostgreSQL and the nodes running (and prints where).
# (The build and bake steps of the seed flow are not part of it: builds and
# bakes are not shared across nodes yet, see README "Running several nodes".)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../../build/mizzen"
tmp=$(mktemp -d)
chmod 755 "$tmp"
base=${PORT:-18201}
pgbin=""
for d in /usr/lib/postgresql/*/bin; do pgbin=$d; done # the newest sorts last
pgport=$((base + 100))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=""
cleanup() {
	[ "${KEEP:-0}" = 1 ] && return
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	as_pg "$pgbin/pg_ctl" -D "$tmp/pg/data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# PostgreSQL: initdb refuses root, so as the postgres user when root
mkdir -p "$tmp/pg"
user=$(id -un)
if [ "$(id -u)" = 0 ]; then chown postgres "$tmp/pg"; user=postgres; fi
as_pg "$pgbin/initdb" -D "$tmp/pg/data" -A trust -U "$user" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$tmp/pg/data" -w -l "$tmp/pg/log" \
	-o "-k $tmp/pg -c listen_addresses= -p $pgport" start >/dev/null
as_pg "$pgbin/createdb" -h "$tmp/pg" -p "$pgport" -U "$user" mizzen
db="postgres://$user@/mizzen?host=$tmp/pg&port=$pgport"
echo "PostgreSQL on $tmp/pg (port $pgport)"

printf '{"providers": {"local": {"accounts": [{"name": "local", "regions": ["east", "west"]}]}}}' \
	>"$tmp/config.json"
start_node() { # N REGIONS
	port=$((base + $1 - 1))
	MZ_POLL_INTERVAL_MS=500 "$bin" serve --listen "127.0.0.1:$port" --data "$tmp/node$1" \
		--db "$db" --config "$tmp/config.json" --host-regions "$2" >>"$tmp/node$1.log" 2>&1 &
	eval "pid$1=$!"
	pids="$pids $!"
	until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
	echo "node $1 on http://127.0.0.1:$port (host regions: '${2}')"
}
url() { echo "http://127.0.0.1:$((base + $1 - 1))"; }

start_node 1 east
# the first node on an empty database creates the admin; the others share it
until [ -s "$tmp/node1/initial-admin-password" ]; do sleep 0.1; done
printf 'user = "admin:%s"\n' "$(cat "$tmp/node1/initial-admin-password")" >"$tmp/curlrc"
api() { curl -sf -K "$tmp/curlrc" -H 'Content-Type: application/json' "$@"; }
start_node 2 west
start_node 3 ""

echo "GET /nodes:"
api "$(url 3)/nodes" | python3 -m json.tool

git -C "$tmp" init -q -b main repo
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q --allow-empty -m first
api -X POST "$(url 1)/tasks" -d '{"application": "fleet", "description": "Create Application",
  "job": [{"type": "createApplication", "application": {"name": "fleet", "email": "me@example.com"}}]}' >/dev/null
sleep 1
api -X POST "$(url 2)/pipelines" -d "{\"application\": \"fleet\", \"name\": \"release\",
  \"triggers\": [{\"type\": \"git\", \"source\": \"git\", \"url\": \"$tmp/repo\", \"branch\": \"main\", \"enabled\": true}],
  \"stages\": [
    {\"refId\": \"1\", \"type\": \"evaluateVariables\", \"name\": \"Plan\",
     \"variables\": [{\"key\": \"version\", \"value\": \"\${trigger.hash.substring(0, 7)}\"}]},
    {\"refId\": \"2\", \"requisiteStageRefIds\": [\"1\"], \"type\": \"wait\", \"name\": \"Soak\", \"waitTime\": 1},
    {\"refId\": \"3\", \"requisiteStageRefIds\": [\"2\"], \"type\": \"manualJudgment\", \"name\": \"Approve\"}]}" >/dev/null
sleep 2
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q --allow-empty -m second
echo "committed $(git -C "$tmp/repo" rev-parse --short HEAD); all three nodes poll the repository"

count() { api "$(url 3)/applications/fleet/pipelines" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
until [ "$(count)" -ge 1 ]; do sleep 0.3; done
sleep 3
echo "executions started by the commit: $(count)"
id=$(api "$(url 3)/applications/fleet/pipelines" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
stage_id() {
	api "$(url 2)/pipelines/$id" | python3 -c '
import json, sys
e = json.load(sys.stdin)
s = [s for s in e["stages"] if s["name"] == "Approve" and s["status"] == "RUNNING"]
print(s[0]["id"] if s else "")'
}
until [ -n "$(stage_id)" ]; do sleep 0.3; done
api -X PATCH "$(url 2)/pipelines/$id/stages/$(stage_id)" -d '{"judgmentStatus": "continue"}' >/dev/null
echo "approved through node 2"
status() { api "$(url 3)/pipelines/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
until [ "$(status)" = SUCCEEDED ]; do sleep 0.3; done
echo "execution $id: SUCCEEDED (read through node 3)"

eval "kill -9 \$pid1"
echo "node 1 killed with kill -9; waiting for GET /nodes to show it dead"
t0=$(date +%s)
alive() { api "$(url 3)/nodes" | python3 -c "
import json, sys
print([n['alive'] for n in json.load(sys.stdin) if n['address'] == '127.0.0.1:$base'][0])"; }
until [ "$(alive)" = False ]; do sleep 0.2; done
echo "node 1 shown dead after $(( $(date +%s) - t0 )) s"
start_node 1 east
until [ "$(alive)" = True ]; do sleep 0.2; done
echo "node 1 is back"
if [ "${KEEP:-0}" = 1 ]; then
	echo "left running: nodes on ports $base-$((base + 2)), PostgreSQL in $tmp/pg; logs in $tmp"
fi
