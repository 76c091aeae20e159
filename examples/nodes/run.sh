#!/bin/sh
# Three mizzen nodes on one PostgreSQL, on loopback: a throwaway PostgreSQL
# (unix socket in a temp dir), node 1 hosting region east, node 2 west,
# node 3 none. A commit to a git repository polled by all three starts one
# execution; it runs across the nodes, is approved through node 2 and
# watched through node 3. Then a deploy of examples/webapp to east and west
# in parallel, started on node 3, runs east's instances under node 1 and
# west's under node 2, each behind its own node's HAProxy, and node 3 lists
# both. Node 1 is killed with kill -9: GET /nodes shows it dead within the
# lease, a deploy to east says it waits for a node hosting east (east keeps
# serving), and completes when node 1 is back.
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
# the instances and HAProxy of every node (they outlive the nodes)
kill_clouds() {
	python3 - "$tmp"/node* <<'PY'
import glob, json, os, signal, sys
for data in sys.argv[1:]:
    pids = set()
    for f in glob.glob(os.path.join(data, "cloud", "servergroups", "**", "*.json"), recursive=True):
        try:
            pids |= {i["pid"] for i in json.load(open(f)).get("instances", []) if i.get("pid")}
        except (OSError, ValueError):
            pass
    try:
        pids.add(int(open(os.path.join(data, "cloud", "haproxy", "haproxy.pid")).read().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    for pid in pids:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
PY
}
cleanup() {
	[ "${KEEP:-0}" = 1 ] && return
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	kill_clouds
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

webapp=$(cd "$here/../webapp" && pwd)
printf '{"providers": {"local": {"accounts": [{"name": "local", "regions": ["east", "west"]}],
  "imageRoots": ["%s"]}}}' "$webapp" >"$tmp/config.json"
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

# ---- regions on nodes: a deploy to east and west, started on node 3 --------
lb_east=$((base + 10)) lb_west=$((base + 11))
for r in east west; do
	eval "lbport=\$lb_$r"
	api -X POST "$(url 3)/applications/fleet/tasks" -d "{\"application\": \"fleet\",
	  \"description\": \"load balancer in $r\", \"job\": [{\"type\": \"upsertLoadBalancer\",
	  \"cloudProvider\": \"local\", \"credentials\": \"local\", \"region\": \"$r\",
	  \"name\": \"fleet-$r\", \"listeners\": [{\"externalPort\": $lbport, \"externalProtocol\": \"HTTP\"}],
	  \"healthCheck\": {\"path\": \"/health\"}}]}" >/dev/null
done
cluster() { # REGION VERSION
	echo "{\"application\": \"fleet\", \"stack\": \"web\", \"account\": \"local\",
	  \"cloudProvider\": \"local\", \"region\": \"$1\", \"strategy\": \"highlander\",
	  \"capacity\": {\"min\": 2, \"max\": 2, \"desired\": 2}, \"image\": \"$webapp\",
	  \"command\": [\"python3\", \"\$IMAGE_DIR/app.py\"], \"env\": {\"VERSION\": \"$2\"},
	  \"healthCheck\": {\"path\": \"/health\"}, \"loadBalancers\": [\"fleet-$1\"]}"
}
deploy() { # NAME CLUSTERS -> execution id (started through node 3)
	api -X POST "$(url 3)/pipelines" -d "{\"application\": \"fleet\", \"name\": \"$1\",
	  \"stages\": [{\"refId\": \"1\", \"type\": \"deploy\", \"name\": \"Deploy\", \"clusters\": [$2]}]}" >/dev/null
	api -X POST "$(url 3)/pipelines/fleet/$1" -d '{"type": "manual"}' |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["ref"].split("/")[-1])'
}
exec_status() { api "$(url 3)/pipelines/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
wait_done() {
	while :; do
		s=$(exec_status "$1")
		case $s in SUCCEEDED) return 0;; RUNNING|NOT_STARTED) sleep 0.5;;
		*) echo "execution $1: $s" >&2; exit 1;; esac
	done
}
id=$(deploy spread "$(cluster east v1), $(cluster west v1)")
wait_done "$id"
echo "deploy to east and west (started on node 3): SUCCEEDED"
echo "  east's load balancer (node 1's HAProxy) answers: $(curl -s "http://127.0.0.1:$lb_east/")"
echo "  west's load balancer (node 2's HAProxy) answers: $(curl -s "http://127.0.0.1:$lb_west/")"
echo "server groups as node 3 lists them:"
api "$(url 3)/applications/fleet/serverGroups" | python3 -c '
import json, sys
for g in json.load(sys.stdin):
    print("  %s in %s on node %s: %s" % (g["name"], g["region"], g["node"],
          ", ".join("%s %s" % (i["id"], i["healthState"]) for i in g["instances"])))'

eval "kill -9 \$pid1"
echo "node 1 killed with kill -9; waiting for GET /nodes to show it dead"
t0=$(date +%s)
alive() { api "$(url 3)/nodes" | python3 -c "
import json, sys
print([n['alive'] for n in json.load(sys.stdin) if n['address'] == '127.0.0.1:$base'][0])"; }
until [ "$(alive)" = False ]; do sleep 0.2; done
echo "node 1 shown dead after $(( $(date +%s) - t0 )) s"
id=$(deploy east-v2 "$(cluster east v2)")
waiting() { api "$(url 3)/pipelines/$id" | python3 -c '
import json, sys
print(next((s["context"]["waitingForHost"] for s in json.load(sys.stdin)["stages"]
            if s["context"].get("waitingForHost")), ""))'; }
until [ -n "$(waiting)" ]; do sleep 0.3; done
echo "deploy to east while node 1 is down: $(exec_status "$id"), waitingForHost: $(waiting)"
echo "  east still answers (its instances outlive node 1): $(curl -s "http://127.0.0.1:$lb_east/")"
start_node 1 east
until [ "$(alive)" = True ]; do sleep 0.2; done
echo "node 1 is back"
wait_done "$id"
echo "deploy to east: SUCCEEDED; east answers: $(curl -s "http://127.0.0.1:$lb_east/")"
if [ "${KEEP:-0}" = 1 ]; then
	echo "left running: nodes on ports $base-$((base + 2)), PostgreSQL in $tmp/pg; logs in $tmp"
fi
