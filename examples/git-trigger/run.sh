#!/bin/sh
# The trigger half of the seed flow: a commit to a plain git repository
# starts a pipeline whose trigger carries the commit's hash.
#   examples/git-trigger/run.sh        (needs build/mizzen; uses a temp dir)
# The whole flow, with build, bake and deploy: examples/seed-flow/run.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../../build/mizzen"
tmp=$(mktemp -d)
port=${PORT:-18095}
url="http://127.0.0.1:$port"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

git -C "$tmp" init -q -b main repo
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q --allow-empty -m first

MZ_POLL_INTERVAL_MS=1000 "$bin" serve --listen "127.0.0.1:$port" --data "$tmp/var" \
	>"$tmp/log" 2>&1 &
pid=$!
until curl -sf "$url/health" >/dev/null; do sleep 0.1; done
# authentication is on: sign in as the first admin (its password is in the
# data dir; curl reads it from a config file, not the command line)
until [ -s "$tmp/var/initial-admin-password" ]; do sleep 0.1; done
printf 'user = "admin:%s"\n' "$(cat "$tmp/var/initial-admin-password")" >"$tmp/curlrc"

sed "s|REPO_PATH|$tmp/repo|" "$here/pipeline.json" |
	curl -sf -K "$tmp/curlrc" -X POST "$url/pipelines" -H 'Content-Type: application/json' -d @- >/dev/null
until grep -qE "baseline|first seen" "$tmp/log"; do sleep 0.2; done
echo "the branch head is the trigger's baseline; committing..."
git -C "$tmp/repo" -c user.name=me -c user.email=me@example.com commit -q --allow-empty -m second
hash=$(git -C "$tmp/repo" rev-parse HEAD)
echo "commit $hash"
for _ in $(seq 1 50); do
	out=$(curl -sf -K "$tmp/curlrc" "$url/applications/seed/pipelines")
	if echo "$out" | grep -q "$hash"; then
		echo "$out" | python3 -c 'import json,sys
for e in json.load(sys.stdin):
    print(e["id"], e["status"], e["trigger"]["type"], e["trigger"]["hash"], e["trigger"]["branch"])'
		exit 0
	fi
	sleep 0.2
done
echo "no execution for $hash" >&2
exit 1
