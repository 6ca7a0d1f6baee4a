# The lab's network (sourced by lab/scenario.sh): three hosts on a wire, all private.
#
#   client ns                    router ns (this shell)                         server ns
#   c0 192.0.2.2 ---veth--- r0 192.0.2.1   r1 192.0.2.65 ---veth--- w1
#                                                                      hb_wire (cut, delay, loss)
#                                                                    ws ---veth--- s0 192.0.2.66
#
# The shell that sources this is already in a network namespace of its own (lab/run.sh
# starts it with `unshare --net --pid --fork --kill-child`): it becomes the router. The client
# and the server each get a namespace held by a sleeping process in the same PID namespace,
# so when the run ends — or is killed — the kernel kills them all and the namespaces vanish.
# Addresses are TEST-NET-1 (192.0.2.0/24, RFC 5737), only ever inside these namespaces.

C_IP=192.0.2.2 R0_IP=192.0.2.1 R1_IP=192.0.2.65 S_IP=192.0.2.66
C_MAC=02:00:00:00:00:02 R0_MAC=02:00:00:00:00:01 R1_MAC=02:00:00:00:00:41 S_MAC=02:00:00:00:00:42

hold_ns() {   # a network namespace held by a sleeping process; prints its PID
  unshare --net sleep 100000 </dev/null >/dev/null 2>&1 &
  local pid=$! me
  me=$(readlink /proc/self/ns/net)
  for _ in $(seq 100); do
    [ "$(readlink /proc/$pid/ns/net 2>/dev/null)" != "$me" ] && break
    sleep 0.01
  done
  echo $pid
}
in_client() { nsenter --target "$CNS" --net "$@"; }
in_server() { nsenter --target "$SNS" --net "$@"; }
# For a program started in the background: `$IN_CLIENT prog &` leaves the program's own PID
# in $! (nsenter enters and execs), so kill -STOP reaches the program, not a subshell.

quiet_links() {   # no IPv6 chatter on the wire, offloads off so frames copy as they are
  sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
}

build_topology() {
  set -e
  CNS=$(hold_ns) SNS=$(hold_ns)
  IN_CLIENT="nsenter --target $CNS --net" IN_SERVER="nsenter --target $SNS --net"
  quiet_links; in_client bash -c "$(declare -f quiet_links); quiet_links"
  in_server bash -c "$(declare -f quiet_links); quiet_links"
  ip link set lo up; in_client ip link set lo up; in_server ip link set lo up

  # client — router: a plain veth pair; the router's kernel routes.
  ip link add r0 address $R0_MAC type veth peer name c0 address $C_MAC netns "$CNS"
  ip addr add $R0_IP/26 dev r0 && ip link set r0 up
  in_client ip addr add $C_IP/26 dev c0
  in_client ip link set c0 up
  in_client ip route add default via $R0_IP
  # router — server: r1 is the router's port; w1 and ws are the two ends of hb_wire.
  ip link add r1 address $R1_MAC type veth peer name w1
  ip link add ws type veth peer name s0 address $S_MAC netns "$SNS"
  ip addr add $R1_IP/26 dev r1
  for l in r1 w1 ws; do ip link set $l up; done
  ip link set w1 promisc on; ip link set ws promisc on
  in_server ip addr add $S_IP/26 dev s0
  in_server ip link set s0 up
  in_server ip route add default via $R1_IP
  sysctl -qw net.ipv4.ip_forward=1

  # Static neighbours: a lost ARP exchange never decides an outcome.
  in_client ip neigh replace $R0_IP lladdr $R0_MAC dev c0 nud permanent
  ip neigh replace $C_IP lladdr $C_MAC dev r0 nud permanent
  ip neigh replace $S_IP lladdr $S_MAC dev r1 nud permanent
  in_server ip neigh replace $R1_IP lladdr $R1_MAC dev s0 nud permanent

  # Offloads off where hb_wire copies frames (see lab/src/wire.rs): both ends of both pairs.
  for l in r1 w1 ws; do ethtool -K $l tx off tso off gso off gro off >/dev/null 2>&1; done
  in_server ethtool -K s0 tx off tso off gso off gro off >/dev/null 2>&1
  set +e
}
