#!/usr/bin/env bash
# Start/stop a local S3 test environment: s3rver behind the SigV4 proxy.
#
#   s3env.sh start DIR   start both, wait until they answer, write DIR/s3.env
#   s3env.sh stop DIR    stop both (using the PIDs recorded in DIR)
#
# DIR/s3data holds s3rver's objects; DIR/s3rver.log and DIR/proxy.log the logs.
# Buckets gen3-test (private) and gen3-public (anonymous GET/HEAD allowed)
# exist at start.  The credentials below are fixed, made-up test values.
# Needs tests/s3/install.sh to have been run (node_modules/s3rver).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

BUCKET=gen3-test
PUBLIC_BUCKET=gen3-public
REGION=us-east-1
AKID=AKIAGEN3DBTESTKEY001
SECRET='gen3dbTestSecret/Permanent+Key0000000001'
TEMP_AKID=ASIAGEN3DBTESTKEY002
TEMP_SECRET='gen3dbTestSecret/Temporary+Key0000000002'
TEMP_TOKEN='gen3dbTestSessionToken/FixedValue+ForTestsOnly=='

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

stop_pid() {
    local pid="$1" i
    alive "$pid" || return 0
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
    local dir="$1" f
    for f in proxy.pid s3rver.pid; do
        if [ -f "$dir/$f" ]; then
            stop_pid "$(cat "$dir/$f")"
            rm -f "$dir/$f"
        fi
    done
}

cmd_start() {
    local dir="$1"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local bin="$here/node_modules/s3rver/bin/s3rver.js"
    if [ ! -f "$bin" ]; then
        echo "s3env.sh: $bin missing; run tests/s3/install.sh first" >&2
        exit 1
    fi
    for f in s3rver.pid proxy.pid; do
        if [ -f "$dir/$f" ] && alive "$(cat "$dir/$f")"; then
            echo "s3env.sh: already running in $dir (stop it first)" >&2
            exit 1
        fi
    done
    rm -f "$dir/s3.env" "$dir/proxy.port"
    mkdir -p "$dir/s3data"

    # Node 20's OpenSSL 3 lacks DES, which s3rver uses for continuation
    # tokens (listings of more than 1000 keys): enable the legacy provider.
    NODE_OPTIONS=--openssl-legacy-provider nohup node "$bin" \
        -d "$dir/s3data" -a 127.0.0.1 -p 0 --no-vhost-buckets \
        --configure-bucket "$BUCKET" --configure-bucket "$PUBLIC_BUCKET" \
        >"$dir/s3rver.log" 2>&1 </dev/null &
    local s3pid=$!
    echo "$s3pid" >"$dir/s3rver.pid"

    local port="" i
    for i in $(seq 1 200); do
        port="$(sed -n 's/.*S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/s3rver.log" | head -n1)"
        [ -n "$port" ] && break
        if ! alive "$s3pid"; then break; fi
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "s3env.sh: s3rver did not start; log follows" >&2
        cat "$dir/s3rver.log" >&2
        cmd_stop "$dir"
        exit 1
    fi
    local upstream="http://127.0.0.1:$port"

    nohup python3 "$here/sigv4_proxy.py" --upstream "$upstream" \
        --listen-host 127.0.0.1 --listen-port 0 --port-file "$dir/proxy.port" \
        --cred "$AKID:$SECRET" --temp-cred "$TEMP_AKID:$TEMP_SECRET:$TEMP_TOKEN" \
        --region "$REGION" --allow-anonymous-bucket "$PUBLIC_BUCKET" \
        --s3rver-data "$dir/s3data" \
        >"$dir/proxy.log" 2>&1 </dev/null &
    local pxpid=$!
    echo "$pxpid" >"$dir/proxy.pid"

    local pport=""
    for i in $(seq 1 200); do
        [ -s "$dir/proxy.port" ] && pport="$(cat "$dir/proxy.port")" && break
        alive "$pxpid" || break
        sleep 0.05
    done
    if [ -z "$pport" ]; then
        echo "s3env.sh: proxy did not start; log follows" >&2
        cat "$dir/proxy.log" >&2
        cmd_stop "$dir"
        exit 1
    fi

    # Both must answer HTTP (the proxy answers an unsigned request with 403).
    local ok=""
    for i in $(seq 1 100); do
        if python3 - "$upstream" "http://127.0.0.1:$pport" <<'EOF' 2>/dev/null
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        urllib.request.urlopen(url + "/", timeout=2).read()
    except urllib.error.HTTPError:
        pass
EOF
        then ok=1; break; fi
        sleep 0.1
    done
    if [ -z "$ok" ]; then
        echo "s3env.sh: s3rver or proxy not answering" >&2
        cmd_stop "$dir"
        exit 1
    fi

    cat >"$dir/s3.env.tmp" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$pport
export S3_UPSTREAM=$upstream
export S3_REGION=$REGION
export S3_BUCKET=$BUCKET
export S3_PUBLIC_BUCKET=$PUBLIC_BUCKET
export AWS_ACCESS_KEY_ID=$AKID
export AWS_SECRET_ACCESS_KEY='$SECRET'
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export TEMP_AWS_ACCESS_KEY_ID=$TEMP_AKID
export TEMP_AWS_SECRET_ACCESS_KEY='$TEMP_SECRET'
export TEMP_AWS_SESSION_TOKEN='$TEMP_TOKEN'
export S3RVER_PID=$s3pid
export S3_PROXY_PID=$pxpid
export S3_ENV_DIR=$dir
EOF
    mv "$dir/s3.env.tmp" "$dir/s3.env"
    echo "s3env: S3_ENDPOINT=http://127.0.0.1:$pport (s3rver $upstream); env in $dir/s3.env"
}

[ $# -eq 2 ] || usage
case "$1" in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    *) usage ;;
esac
