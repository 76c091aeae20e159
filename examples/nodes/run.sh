#!/bin/sh
# The seed flow across three mizzen nodes on one PostgreSQL, on loopback: a
# throwaway PostgreSQL (unix socket in a temp dir), node 1 hosting region
# east, node 2 west, node 3 none. A commit to a git repository polled by
# all three starts one execution of Build (runJob) -> Bake in east and west
# in parallel -> Approve (manual judgment) -> red/black Deploy to east and
# west. The build runs on whichever node takes it; each region's bake runs
# on the node hosting that region (reading the build's artifact from the
# database when it was built elsewhere), and each region's deploy on the
# same node, behind that node's HAProxy; node 3 lists all of it. Then node
# 1 is killed with kill -9: GET /nodes shows it dead within the lease, the
# next commit's east bake says it waits for a node hosting east (east keeps
# serving), and the flow completes when node 1 is back, east and west
# switched red/black to the new version.
#   examples/nodes/run.sh        (needs build/mizzen and Debian's postgresql)
# KEEP=1 leaves PostgreSQL and the nodes running (and prints where).
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
api "$(url 3)/nodes" | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    print("  %s %s hosts %s, alive: %s" % (n["id"], n["address"], n["hostRegions"], n["alive"]))'

# the sample app of examples/seed-flow in a fresh repository
git -C "$tmp" init -q -b main repo
cp "$here/../seed-flow/app/server.py" "$here/../seed-flow/app/build.sh" "$tmp/repo/"
echo 1.0 >"$tmp/repo/version.txt"
git -C "$tmp/repo" add .
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q -m first
commit() { # VERSION
	echo "$1" >"$tmp/repo/version.txt"
	git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q -am "version $1"
	git -C "$tmp/repo" rev-parse HEAD
}

api -X POST "$(url 1)/tasks" -d '{"application": "fleet", "description": "Create Application",
  "job": [{"type": "createApplication", "application": {"name": "fleet", "email": "me@example.com"}}]}' >/dev/null
lb_east=$((base + 10)) lb_west=$((base + 11))
for r in east west; do # through node 3, which hosts neither
	eval "lbport=\$lb_$r"
	api -X POST "$(url 3)/applications/fleet/tasks" -d "{\"application\": \"fleet\",
	  \"description\": \"load balancer in $r\", \"job\": [{\"type\": \"upsertLoadBalancer\",
	  \"cloudProvider\": \"local\", \"credentials\": \"local\", \"region\": \"$r\",
	  \"name\": \"fleet-$r\", \"listeners\": [{\"externalPort\": $lbport, \"externalProtocol\": \"HTTP\"}],
	  \"healthCheck\": {\"path\": \"/health\"}}]}" >/dev/null
done
cluster() { # REGION
	echo "{\"application\": \"fleet\", \"stack\": \"web\", \"freeFormDetails\": \"\",
	  \"account\": \"local\", \"cloudProvider\": \"local\", \"region\": \"$1\",
	  \"capacity\": {\"min\": 2, \"max\": 2, \"desired\": 2}, \"strategy\": \"redblack\",
	  \"maxRemainingAsgs\": 2, \"healthCheck\": {\"path\": \"/health\"},
	  \"loadBalancers\": [\"fleet-$1\"]}"
}
api -X POST "$(url 2)/pipelines" -d "{\"application\": \"fleet\", \"name\": \"release\",
  \"triggers\": [{\"type\": \"git\", \"source\": \"git\", \"url\": \"$tmp/repo\", \"branch\": \"main\", \"enabled\": true}],
  \"stages\": [
    {\"refId\": \"build\", \"type\": \"runJob\", \"name\": \"Build\", \"cloudProvider\": \"local\",
     \"account\": \"local\", \"git\": {\"url\": \"$tmp/repo\", \"ref\": \"\${trigger.hash}\"},
     \"command\": [\"./build.sh\"], \"timeoutSeconds\": 120,
     \"outputArtifacts\": [{\"name\": \"fleet-app\", \"path\": \"dist\"}],
     \"propertyFile\": \"build.properties\"},
    {\"refId\": \"bake\", \"type\": \"bake\", \"name\": \"Bake\", \"requisiteStageRefIds\": [\"build\"],
     \"cloudProviderType\": \"local\", \"package\": \"fleet-app\", \"regions\": [\"east\", \"west\"],
     \"startCommand\": [\"python3\", \"\$IMAGE_DIR/server.py\"], \"healthCheck\": {\"path\": \"/health\"}},
    {\"refId\": \"approve\", \"type\": \"manualJudgment\", \"name\": \"Approve\",
     \"requisiteStageRefIds\": [\"bake\"]},
    {\"refId\": \"deploy\", \"type\": \"deploy\", \"name\": \"Deploy\", \"requisiteStageRefIds\": [\"approve\"],
     \"clusters\": [$(cluster east), $(cluster west)]}]}" >/dev/null
# the trigger's baseline is taken by whichever node polls first
until grep -qE "baseline|first seen" "$tmp"/node*.log; do sleep 0.2; done

node_no() { # NODE-ID -> 1, 2 or 3
	api "$(url 3)/nodes" | python3 -c "
import json, sys
print(next(int(n['address'].rsplit(':', 1)[1]) - $base + 1 for n in json.load(sys.stdin)
           if n['id'] == sys.argv[1]))" "$1"
}
exec_for() { # HASH -> the id of the execution it started ("" until then)
	api "$(url 3)/applications/fleet/pipelines" | python3 -c '
import json, sys
print(next((e["id"] for e in json.load(sys.stdin) if e["trigger"].get("hash") == sys.argv[1]), ""))' "$1"
}
stage() { # EXEC NAME FIELD (status, node, id, waitingForHost)
	api "$(url 3)/pipelines/$1" | python3 -c '
import json, sys
s = next((s for s in json.load(sys.stdin)["stages"] if s["name"] == sys.argv[1]), {})
v = s.get(sys.argv[2], s.get("context", {}).get(sys.argv[2]))
print(v if v is not None else "")' "$2" "$3"
}
exec_status() { api "$(url 3)/pipelines/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
wait_stage() { # EXEC NAME STATUS
	while [ "$(stage "$1" "$2" status)" != "$3" ]; do
		case $(exec_status "$1") in RUNNING|NOT_STARTED) sleep 0.3;;
		*) echo "execution $1: $(exec_status "$1")" >&2; exit 1;; esac
	done
}
wait_done() {
	while :; do
		s=$(exec_status "$1")
		case $s in SUCCEEDED) return 0;; RUNNING|NOT_STARTED) sleep 0.5;;
		*) echo "execution $1: $s" >&2; exit 1;; esac
	done
}
where() { # EXEC: which node ran what
	echo "  Build on node $(node_no "$(stage "$1" Build node)"), Bake in east on node" \
		"$(node_no "$(stage "$1" "Bake in east" node)"), Bake in west on node" \
		"$(node_no "$(stage "$1" "Bake in west" node)")"
}
approve() { # EXEC, through node 2
	wait_stage "$1" Approve RUNNING
	api -X PATCH "$(url 2)/pipelines/$1/stages/$(stage "$1" Approve id)" \
		-d '{"judgmentStatus": "continue"}' >/dev/null
	echo "  approved through node 2"
}
groups() {
	echo "server groups as node 3 lists them:"
	api "$(url 3)/applications/fleet/serverGroups" | python3 -c '
import json, sys
for g in sorted(json.load(sys.stdin), key=lambda g: (g["region"], g["name"])):
    print("  %s in %s on node %s%s: %s" % (g["name"], g["region"], g["node"],
          " (disabled)" if g["isDisabled"] else "",
          ", ".join("%s %s" % (i["id"], i["healthState"]) for i in g["instances"])))'
}
serving() {
	echo "  east's load balancer (node 1's HAProxy) answers: $(curl -s "http://127.0.0.1:$lb_east/")"
	echo "  west's load balancer (node 2's HAProxy) answers: $(curl -s "http://127.0.0.1:$lb_west/")"
}

hash=$(commit 1.1)
echo "committed version 1.1 ($hash); all three nodes poll the repository"
id=""
until [ -n "$id" ]; do sleep 0.3; id=$(exec_for "$hash"); done
sleep 2
echo "executions the commit started: $(api "$(url 3)/applications/fleet/pipelines" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["trigger"].get("hash") == sys.argv[1]))' "$hash")"
echo "execution $id (UI: $(url 3)/ui/#/applications/fleet/executions/details/$id)"
approve "$id"
wait_done "$id"
echo "execution $id: SUCCEEDED (read through node 3)"
where "$id"
serving
groups

eval "kill -9 \$pid1"
echo "node 1 killed with kill -9; waiting for GET /nodes to show it dead"
t0=$(date +%s)
alive() { api "$(url 3)/nodes" | python3 -c "
import json, sys
print([n['alive'] for n in json.load(sys.stdin) if n['address'] == '127.0.0.1:$base'][0])"; }
until [ "$(alive)" = False ]; do sleep 0.2; done
echo "node 1 shown dead after $(( $(date +%s) - t0 )) s"
hash=$(commit 1.2)
echo "committed version 1.2 ($hash)"
id=""
until [ -n "$id" ]; do sleep 0.3; id=$(exec_for "$hash"); done
until [ -n "$(stage "$id" "Bake in east" waitingForHost)" ]; do
	[ "$(exec_status "$id")" = RUNNING ] || { echo "execution $id: $(exec_status "$id")" >&2; exit 1; }
	sleep 0.3
done
echo "execution $id while node 1 is down: Bake in east waits: $(stage "$id" "Bake in east" waitingForHost)"
wait_stage "$id" "Bake in west" SUCCEEDED
echo "  Bake in west: SUCCEEDED on node $(node_no "$(stage "$id" "Bake in west" node)")"
echo "  east still answers (its instances outlive node 1): $(curl -s "http://127.0.0.1:$lb_east/")"
start_node 1 east
until [ "$(alive)" = True ]; do sleep 0.2; done
echo "node 1 is back"
approve "$id"
wait_done "$id"
echo "execution $id: SUCCEEDED"
where "$id"
serving
groups
if [ "${KEEP:-0}" = 1 ]; then
	echo "left running: nodes on ports $base-$((base + 2)), PostgreSQL in $tmp/pg; logs in $tmp"
fi
