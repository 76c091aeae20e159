#!/bin/sh
# The seed flow: commit -> git poller -> Build (runJob) -> Bake in two regions
# in parallel -> Deploy red/black behind a load balancer (staging, east) ->
# Manual Judgment -> Promote (prod, west).
#   examples/seed-flow/run.sh        (needs build/mizzen; everything in a temp dir)
# KEEP=1 leaves the server and the app running (and prints where).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../../build/mizzen"
tmp=$(mktemp -d)
port=${PORT:-18096}
stg=${STAGING_PORT:-18180}
prod=${PROD_PORT:-18181}
url="http://127.0.0.1:$port"
pid=""
cleanup() {
	[ "${KEEP:-0}" = 1 ] && return
	kill "$pid" 2>/dev/null || true
	sleep 0.5
	# instances and HAProxy outlive the server by design: stop them too
	for p in $(grep -l "$tmp" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null |
	           cut -d/ -f3 | sort -u); do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
# Authentication is on: sign in as the first admin, whose password the
# server writes to its data dir (passed to curl in a config file, not argv).
api() { curl -sf -K "$tmp/curlrc" -H 'Content-Type: application/json' "$@"; }

# the sample app repository
git -C "$tmp" init -q -b main repo
cp "$here/app/server.py" "$here/app/build.sh" "$tmp/repo/"
echo 1.0 > "$tmp/repo/version.txt"
git -C "$tmp/repo" add .
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q -m "first"

printf '{"providers": {"local": {"accounts": [{"name": "local", "regions": ["east", "west"]}]}}}' \
	>"$tmp/config.json"
MZ_POLL_INTERVAL_MS=1000 "$bin" serve --listen "127.0.0.1:$port" --data "$tmp/var" \
	--config "$tmp/config.json" >"$tmp/log" 2>&1 &
pid=$!
until curl -sf "$url/health" >/dev/null; do sleep 0.1; done
until [ -s "$tmp/var/initial-admin-password" ]; do sleep 0.1; done
printf 'user = "admin:%s"\n' "$(cat "$tmp/var/initial-admin-password")" >"$tmp/curlrc"

api -X POST "$url/tasks" -d '{"application": "seed", "description": "Create Application",
  "job": [{"type": "createApplication", "application": {"name": "seed", "email": "me@example.com"}}]}' >/dev/null
for lb in "seed-staging east $stg" "seed-prod west $prod"; do
	set -- $lb
	api -X POST "$url/applications/seed/tasks" -d "{\"application\": \"seed\",
	  \"description\": \"Create load balancer $1\", \"job\": [{\"type\": \"upsertLoadBalancer\",
	  \"cloudProvider\": \"local\", \"credentials\": \"local\", \"region\": \"$2\", \"name\": \"$1\",
	  \"listeners\": [{\"externalPort\": $3, \"externalProtocol\": \"HTTP\"}],
	  \"healthCheck\": {\"path\": \"/health\"}}]}" >/dev/null
done
sed -e "s|REPO_PATH|$tmp/repo|g" -e "s|NOTIFY_URL|http://127.0.0.1:9/notify|" \
	"$here/pipeline.json" | api -X POST "$url/pipelines" -d @- >/dev/null
until grep -qE "baseline|first seen" "$tmp/log"; do sleep 0.2; done

echo 1.1 > "$tmp/repo/version.txt"
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q -am "version 1.1"
hash=$(git -C "$tmp/repo" rev-parse HEAD)
echo "committed $hash; waiting for the poller..."
exec_id=""
while [ -z "$exec_id" ]; do
	sleep 0.5
	exec_id=$(api "$url/applications/seed/pipelines" | python3 -c 'import json,sys
h=sys.argv[1]
print(next((e["id"] for e in json.load(sys.stdin) if e["trigger"].get("hash")==h), ""))' "$hash")
done
echo "execution $exec_id (UI: $url/ui/#/applications/seed/executions/details/$exec_id)"
show() {
	api "$url/pipelines/$exec_id" | python3 -c 'import json,sys
e=json.load(sys.stdin)
print("  ", e["status"], " | ".join("%s:%s" % (s["name"], s["status"]) for s in e["stages"]))
j=[s for s in e["stages"] if s["type"]=="manualJudgment" and s["status"]=="RUNNING"]
print("JUDGE", j[0]["id"] if j else "")
print("DONE" if e["status"] in ("SUCCEEDED","TERMINAL","CANCELED","STOPPED") else "")'
}
while :; do
	out=$(show)
	echo "$out" | head -1
	judge=$(echo "$out" | sed -n 's/^JUDGE //p')
	if [ -n "$judge" ]; then
		echo "staging serves: $(curl -s "127.0.0.1:$stg/")"
		echo "manual judgment: continue"
		api -X PATCH "$url/pipelines/$exec_id/stages/$judge" -d '{"judgmentStatus": "continue"}' >/dev/null
	fi
	echo "$out" | grep -q '^DONE' && break
	sleep 2
done
echo "prod serves: $(curl -s "127.0.0.1:$prod/")"
[ "${KEEP:-0}" = 1 ] && echo "server $url (pid $pid), data in $tmp"
api "$url/pipelines/$exec_id" | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["status"] != "SUCCEEDED")'
