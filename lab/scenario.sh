#!/usr/bin/env bash
# One lab run: a program PAIR meets a FATE across a wire. The fate befalls the server (or the
# wire between them); the client watches. lab/run.sh starts this in namespaces of its own:
#   sudo unshare --net --pid --fork --kill-child --mount-proc bash lab/scenario.sh ka gone
#
#   PAIR: hb (hb_client/hb_server), hb1 (hb_client1/hb_server1), oob (hb_client_oob/
#         hb_server_oob), ka (ka_client/ka_server), kaw (ka_client --write), kaw-ut (and
#         --user-timeout)
#   FATE: alive; killed (SIGKILL: FIN); hung (SIGSTOP); gone (the server's iptables DROPs);
#         rebooted (REJECT with tcp-reset); partition (the wire is cut for good); flap (cut
#         for FLAP s, then mended); busy-gone (cut while the client writes); nat-idle (the
#         router NATs and forgets idle connections after NAT_IDLE s); lossy (LOSS % of frames
#         lost); slow (DELAY ± JITTER ms each way) — the last two for DURATION s, the client
#         restarted after every death, each one false.
# Knobs (environment): IDLE INTERVAL PROBES USER_TIMEOUT WRITE DURATION FLAP NAT_IDLE LOSS
# DELAY JITTER. What was used goes to $OUT/settings; hb_lab computes the expectation from it.
set -u
PAIR=$1 FATE=$2
BIN=${BIN:-.} LAB_BIN=${LAB_BIN:-target/release} PORT=9000 OUT=${OUT:-target/lab/$PAIR-$FATE}
cd "$(dirname "$0")/.." && source lab/topology.sh
mkdir -p "$OUT" && find "$OUT" -maxdepth 1 -type f ! -name scenario.log -delete
now() { date +%s.%N; }
skip() { echo "$*" >>"$OUT/skipped"; }
trap 'exec 4>&- 2>/dev/null' EXIT

source lab/settings.sh || exit 2   # the knobs and the defaults: $OUT/settings

build_topology 2>"$OUT/topology.log" || { skip "the topology could not be built: $(tail -1 "$OUT/topology.log")"; exit 0; }
mkfifo "$OUT/wire.ctl" && exec 4<>"$OUT/wire.ctl"
"$LAB_BIN/hb_wire" -t w1 ws <&4 2>"$OUT/wire.log" &
wire() { echo "$*" >&4; }
[ "$loss" != 0 ] && wire loss "$loss"
[ "$delay" != 0 ] && wire delay "$delay" "$jitter"

if [ "$FATE" = nat-idle ]; then   # the router is a NAT with a short memory
  iptables -t nat -A POSTROUTING -o r1 -j MASQUERADE || skip "no NAT (iptables -t nat) here"
  sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established="$nat_idle" || skip "no conntrack timeout here"
  for chain in FORWARD INPUT; do   # a segment of a connection the NAT forgot is dropped
    iptables -A $chain -p tcp ! --syn -m conntrack --ctstate NEW,INVALID -j DROP || skip "no conntrack match"
  done
fi

# Ground truth: every segment on the client's side of the wire.
$IN_CLIENT tcpdump -Z root --immediate-mode -i c0 -n -U -s 128 -w "$OUT/capture.pcap" tcp 2>"$OUT/tcpdump.log" &
cap=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/tcpdump.log" 2>/dev/null && break; sleep 0.05; done
grep -q 'listening on' "$OUT/tcpdump.log" 2>/dev/null || skip "tcpdump did not start: $(tail -1 "$OUT/tcpdump.log" 2>/dev/null)"

RUST_LOG=debug $IN_SERVER $BIN/$server 2>"$OUT/server.log" &
srv=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/server.log" 2>/dev/null && break; sleep 0.05; done

mkfifo "$OUT/stdin" && exec 3<>"$OUT/stdin"   # a stdin that stays open and silent
start_client() {   # $1: the log's name
  RUST_LOG=debug $IN_CLIENT $BIN/$client <"$OUT/stdin" >/dev/null 2>"$OUT/$1" &
  cli=$!
}
stop() { for p in "$@"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

case $FATE in
  lossy|slow)   # false deaths: the server is alive throughout; every ending is one
    end=$(awk "BEGIN { printf \"%.3f\", $(now) + $duration }") n=0
    before() { awk "BEGIN { exit !($(now) < $end) }"; }
    while before && [ $n -lt 2000 ]; do   # bounded: DURATION, and 2000 attempts at most
      n=$((n + 1)); start_client "client.$n.log"
      while kill -0 $cli 2>/dev/null && before; do sleep 0.05; done
      # The run's end is when the watching stops: stamped before the last client is stopped,
      # so the FIN its stop sends is after the end, not a death the log does not say.
      before || [ -s "$OUT/end.at" ] || now >"$OUT/end.at"
      stop $cli
    done
    [ -s "$OUT/end.at" ] || now >"$OUT/end.at" ;;
  *)
    [ "$FATE" = nat-idle ] && now >"$OUT/fault.at"   # the NAT is there from the start
    start_client client.log
    for _ in $(seq 100); do grep -q 'clock zero' "$OUT/client.log" 2>/dev/null && break; sleep 0.02; done
    sleep 2.6                            # a few heartbeats go back and forth
    fw() { in_server iptables "$@" || skip "iptables $* failed in this namespace"; }
    [ "$FATE" = nat-idle ] || now >"$OUT/fault.at"
    case $FATE in
      alive|nat-idle) ;;
      killed)   kill -KILL $srv ;;
      hung)     kill -STOP $srv ;;
      gone)     fw -A INPUT -p tcp -j DROP; fw -A OUTPUT -p tcp -j DROP ;;   # nothing in, nothing out
      rebooted) fw -A INPUT -p tcp --dport $PORT -j REJECT --reject-with tcp-reset
                hb=$(sed -n 's/.*heartbeat listener on .*:\([0-9]*\)$/\1/p' "$OUT/client.log")
                [ -n "$hb" ] && fw -A INPUT -p tcp --sport "$hb" -j REJECT --reject-with tcp-reset ;;
      partition|busy-gone) wire cut ;;
      flap)     # the wire cuts from the next TCP frame, the exchange in flight, for FLAP s
                wire flap "$flap"   # (lab/src/cut.rs); the fault is when the wire says it began
                for _ in $(seq 400); do
                  at=$(sed -n 's/.*flap: the cut began at \([0-9.]*\) .*/\1/p' "$OUT/wire.log")
                  [ -n "$at" ] && break; sleep 0.05
                done
                [ -n "$at" ] || { at=$(now); wire mend; }   # none in 20 s: the row says cut 0
                echo "$at" >"$OUT/fault.at" ;;
      *) echo "unknown fate: $FATE"; exit 2 ;;
    esac
    # Watch for twice the longest bound and a second (hb_lab computes it from the settings).
    watch=$("$LAB_BIN/hb_lab" --watch "$OUT/settings") || watch=10
    for _ in $(seq $((watch * 20))); do kill -0 $cli 2>/dev/null || break; sleep 0.05; done
    now >"$OUT/end.at"
    stop $cli ;;
esac
stop $srv
sleep 0.2; kill -INT $cap 2>/dev/null; wait $cap 2>/dev/null
wire stats; exec 4>&-; sleep 0.1
rm -f "$OUT/stdin" "$OUT/wire.ctl"
exit 0
