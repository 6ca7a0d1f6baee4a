#!/usr/bin/env bash
# make demo: seed 000's in-band heartbeat in ten seconds.
# Starts hb_server and hb_client on 127.0.0.1 with --idle 2 --interval 1, lets a few
# heartbeats pass, hangs the server with SIGSTOP, and shows the client declaring
# "connection dead" (2 + 3 x 1 = 5 s after the last answer). Cleans up after itself.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp -d)
trap 'kill -CONT $srv 2>/dev/null; kill $srv $cli 2>/dev/null; wait 2>/dev/null; rm -rf "$log"' EXIT

RUST_LOG=debug ./hb_server -t --idle 2 --interval 1 0 2>"$log/server" &
srv=$!
for _ in $(seq 50); do grep -q 'listening on' "$log/server" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$log/server" | head -1)
[ -n "$port" ] || { echo "demo: the server did not start"; cat "$log/server"; exit 1; }

echo "\$ ./hb_server --idle 2 --interval 1 $port          (pid $srv)"
echo "\$ ./hb_client -t --idle 2 --interval 1 127.0.0.1 $port"
./hb_client -t --idle 2 --interval 1 127.0.0.1 "$port" 2>&1 &
cli=$!
sleep 4.5
echo "--- kill -STOP $srv: the server hangs; its kernel still ACKs, but nobody answers ---"
kill -STOP "$srv"
wait "$cli"
echo "--- hb_client exited with status $? ---"
