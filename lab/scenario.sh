#!/usr/bin/env bash
# One lab run: a program PAIR meets a FATE. The fate befalls the server; the client watches.
#   PAIR: hb (hb_client/hb_server), hb1 (hb_client1/hb_server1),
#         oob (hb_client_oob/hb_server_oob), ka (ka_client/ka_server)
#   FATE: alive, killed (SIGKILL: FIN), hung (SIGSTOP), gone (DROP: nothing answers),
#         rebooted (REJECT with tcp-reset: the kernel has forgotten the connection)
# Run it inside a private network namespace, never on the machine's own network:
#   sudo unshare -n bash lab/scenario.sh ka gone
# Logs go to $OUT (default target/lab/PAIR-FATE); programs come from $BIN (default .).
set -u
PAIR=$1 FATE=$2
BIN=${BIN:-.} PORT=${PORT:-9000} OUT=${OUT:-target/lab/$PAIR-$FATE}
WATCH=${WATCH:-9}   # seconds to watch after the fault (3 x the longest bound)
mkdir -p "$OUT" && rm -f "$OUT"/*
now() { date +%s.%N; }

ip link set lo up                     # the namespace's own 127.0.0.1, nothing else

case $PAIR in
  hb)  server="hb_server --idle 1 --interval 0.5 $PORT"
       client="hb_client -t --idle 1 --interval 0.5 127.0.0.1 $PORT" ;;
  hb1) server="hb_server1 --idle 1 --interval 0.5 $PORT"
       client="hb_client1 -t --idle 1 --interval 0.5 127.0.0.1 $PORT" ;;
  oob) server="hb_server_oob --interval 0.5 --probes 3 $PORT"
       client="hb_client_oob -t --interval 0.5 --probes 3 127.0.0.1 $PORT" ;;
  ka)  server="ka_server $PORT"
       client="ka_client -t --idle 1 --interval 1 --probes 2 127.0.0.1 $PORT" ;;
  *) echo "unknown pair: $PAIR (hb, hb1, oob, ka)"; exit 2 ;;
esac

RUST_LOG=debug $BIN/$server 2>"$OUT/server.log" &
srv=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/server.log" && break; sleep 0.05; done

mkfifo "$OUT/stdin" && exec 3<>"$OUT/stdin"   # a stdin that stays open and silent
now >"$OUT/client.start"
RUST_LOG=debug $BIN/$client <"$OUT/stdin" >/dev/null 2>"$OUT/client.log" &
cli=$!
sleep 2.6                              # a few heartbeats go back and forth

echo "$PAIR $FATE" >"$OUT/run"
fw() { iptables "$@" || echo "iptables $* failed in this namespace" >>"$OUT/skipped"; }
now >"$OUT/fault.at"
case $FATE in
  alive)    ;;
  killed)   kill -KILL $srv ;;
  hung)     kill -STOP $srv ;;
  gone)     fw -A INPUT -p tcp -j DROP ;;
  rebooted) fw -A INPUT -p tcp --dport $PORT -j REJECT --reject-with tcp-reset
            hb=$(sed -n 's/.*heartbeat listener on .*:\([0-9]*\)$/\1/p' "$OUT/client.log")
            [ -n "$hb" ] && fw -A INPUT -p tcp --sport "$hb" -j REJECT --reject-with tcp-reset ;;
  *) echo "unknown fate: $FATE (alive, killed, hung, gone, rebooted)"; exit 2 ;;
esac

for _ in $(seq $((WATCH * 20))); do kill -0 $cli 2>/dev/null || break; sleep 0.05; done
kill -CONT $srv 2>/dev/null
kill $cli $srv 2>/dev/null; wait 2>/dev/null
rm -f "$OUT/stdin"
exit 0
