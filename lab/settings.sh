# The settings of one lab run, sourced by lab/scenario.sh (and by lab/run.sh for a run that
# cannot be made here): each pair's defaults, then the knobs from the environment. The one
# place the lab's defaults live; $OUT/settings is what hb_lab computes the expectation from.
# Needs PAIR, FATE, OUT, PORT and the addresses of lab/topology.sh. Keepalive takes whole
# seconds.
case $PAIR in
  hb|hb1) idle=${IDLE:-1} interval=${INTERVAL:-0.5} probes=${PROBES:-3} ;;
  oob)    idle="" interval=${INTERVAL:-0.5} probes=${PROBES:-3} ;;
  ka|kaw|kaw-ut) idle=${IDLE:-3} interval=${INTERVAL:-1} probes=${PROBES:-2} ;;
  *) echo "unknown pair: $PAIR (hb, hb1, oob, ka, kaw, kaw-ut)"; return 2 ;;
esac
user_timeout="" write=""
[ "$PAIR" = kaw ] || [ "$PAIR" = kaw-ut ] && write=${WRITE:-0.5}
[ "$PAIR" = kaw-ut ] && user_timeout=${USER_TIMEOUT:-3}
[ "$PAIR" = ka ] && user_timeout=${USER_TIMEOUT:-}
duration=${DURATION:-30} flap=${FLAP:-0.3} nat_idle=${NAT_IDLE:-2}
loss=0 delay=0 jitter=0
[ "$FATE" = lossy ] && loss=${LOSS:-20}
[ "$FATE" = slow ] && delay=${DELAY:-300} jitter=${JITTER:-100}

opts="--interval $interval --probes $probes${idle:+ --idle $idle}"
case $PAIR in
  hb)  server="hb_server $opts $PORT" client="hb_client -t $opts $S_IP $PORT" ;;
  hb1) server="hb_server1 $opts $PORT" client="hb_client1 -t $opts $S_IP $PORT" ;;
  oob) server="hb_server_oob $opts $PORT" client="hb_client_oob -t $opts $S_IP $PORT" ;;
  *)   server="ka_server $PORT"
       client="ka_client -t $opts${user_timeout:+ --user-timeout $user_timeout}${write:+ --write $write} $S_IP $PORT" ;;
esac
server="${server%% *} -t ${server#* }"   # the server's lines timed too (-t), on its own zero
cat >"$OUT/settings" <<EOF
pair=$PAIR
fate=$FATE
idle=$idle
interval=$interval
probes=$probes
user_timeout=$user_timeout
write=$write
duration=$duration
flap=$flap
nat_idle=$nat_idle
loss=$loss
delay=$delay
jitter=$jitter
client=$client
server=$server
client_ip=$C_IP
server_ip=$S_IP
wire=hb_wire (the project's, on w1-ws in the router; this kernel's sch_netem is not used)
netem=tc qdisc replace dev r1 root netem delay ${delay}ms ${jitter}ms loss ${loss}% limit 1000 (router → server); tc qdisc replace dev s0 root netem delay ${delay}ms ${jitter}ms loss ${loss}% limit 1000 (server → router)
EOF
echo "$PAIR $FATE" >"$OUT/run"
