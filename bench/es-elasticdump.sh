#!/usr/bin/env bash
# The helm job's way (gen3-helm _es_index_restore.tpl) for comparison: per
# index `elasticdump --type mapping` then `--type data --limit 10000`
# (without the job's `sleep 10`). ELASTICDUMP names the binary (npm install
# elasticdump into a directory outside the repository).
#   ELASTICDUMP=/tmp/x/node_modules/.bin/elasticdump bench/es-elasticdump.sh URL DIR "dev_case dev_file"
set -euo pipefail
url=$1 dir=$2 indices=$3
ed=${ELASTICDUMP:-elasticdump}
for ix in $indices; do
	"$ed" --input "$dir/${ix}__mapping.json" --output "$url/$ix" --type mapping --quiet
	"$ed" --input "$dir/${ix}__data.json" --output "$url/$ix" --type data --limit 10000 --quiet
done
