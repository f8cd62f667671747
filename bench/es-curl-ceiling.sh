#!/usr/bin/env bash
# The curl ceiling for an ES restore: pre-built _bulk bodies of the
# elasticdump data files posted with N curls in parallel (xargs -P), the
# index created first with the same settings gen3db uses while loading
# (replicas 0, refresh -1). Prints wall seconds and client CPU seconds.
#   bench/es-curl-ceiling.sh URL DIR "dev_case dev_file" [BATCH_BYTES] [JOBS]
set -euo pipefail
url=$1 dir=$2 indices=$3 batch=${4:-10485760} jobs=${5:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ix in $indices; do
	python3 - "$dir" "$ix" "$work" "$batch" <<'PY'
import json, os, sys
d, ix, work, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
m = json.load(open(os.path.join(d, ix + "__mapping.json")))
body = {"mappings": next(iter(m.values()))["mappings"]}
sp = os.path.join(d, ix + "__settings.json")
s = next(iter(json.load(open(sp)).values()))["settings"] if os.path.exists(sp) else {"index": {}}
for k in ("uuid", "creation_date", "version", "provided_name"):
    s["index"].pop(k, None)
s["index"].update({"number_of_replicas": 0, "refresh_interval": "-1"})
body["settings"] = s
json.dump(body, open(os.path.join(work, ix + ".create"), "w"))
n, buf = 0, []
size = 0
def flush():
    global n, buf, size
    if buf:
        with open(os.path.join(work, "%s.%05d.bulk" % (ix, n)), "w") as f:
            f.write("".join(buf))
        n += 1
    buf, size = [], 0
for line in open(os.path.join(d, ix + "__data.json"), encoding="utf-8"):
    h = json.loads(line)
    item = json.dumps({"index": {"_id": h["_id"]}}) + "\n" + json.dumps(h["_source"], separators=(",", ":"), ensure_ascii=False) + "\n"
    if size + len(item) > batch and buf:
        flush()
    buf.append(item)
    size += len(item)
flush()
PY
done
start=$(date +%s.%N)
cpu0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
/usr/bin/time -f "curl-client user=%U sys=%S" bash -c '
url=$1 work=$2 jobs=$3; shift 3
for ix in "$@"; do
	curl -sf -o /dev/null -XPUT -H "Content-Type: application/json" --data-binary @"$work/$ix.create" "$url/$ix"
	ls "$work"/"$ix".*.bulk | xargs -P "$jobs" -I{} curl -sf -o /dev/null -H "Content-Type: application/x-ndjson" --data-binary @{} "$url/$ix/_bulk"
	curl -sf -o /dev/null -XPUT -H "Content-Type: application/json" -d "{\"index\":{\"refresh_interval\":\"1s\"}}" "$url/$ix/_settings"
	curl -sf -o /dev/null -XPOST "$url/$ix/_refresh"
done' _ "$url" "$work" "$jobs" $indices
end=$(date +%s.%N)
echo "curl-ceiling wall=$(echo "$end - $start" | bc)"
