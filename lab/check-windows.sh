#!/usr/bin/env bash
# make check-windows: the Windows build, run under Wine against the Linux programs on
# 127.0.0.1 — each heartbeat pair both ways (answered while both live; a hung server
# noticed within its bound) and ka_client.exe's settings. Wine is not Windows: this shows
# the build and the Windows code paths (Winsock select, SIO_KEEPALIVE_VALS, error codes),
# not Windows' TCP stack, which under Wine is the Linux kernel's.
#
# Needs wine and gcc-mingw-w64-x86-64 (apt-get install wine64 gcc-mingw-w64-x86-64) and
# the Rust target x86_64-pc-windows-gnu. Every wait is bounded; every process started here
# is stopped here, by its pid.
set -u
cd "$(dirname "$0")/.."
T=x86_64-pc-windows-gnu
for tool in wine x86_64-w64-mingw32-gcc; do
    command -v "$tool" >/dev/null || { echo "check-windows: $tool missing (apt-get install wine64 gcc-mingw-w64-x86-64)"; exit 1; }
done
rustup target list --installed 2>/dev/null | grep -qx $T ||
    { echo "check-windows: rustup target add $T"; exit 1; }

cargo build -q --release --bins || exit 1
cargo build -q --release --bins --target $T || exit 1
W=target/check-windows
L=target/release
mkdir -p "$W"
cp target/$T/release/*.exe "$W/"
# Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std calls at startup: a
# one-function stand-in beside the programs (lab/windows/bcryptprimitives.c).
x86_64-w64-mingw32-gcc -O2 -shared -o "$W/bcryptprimitives.dll" lab/windows/bcryptprimitives.c -ladvapi32 || exit 1

export WINEPREFIX="$PWD/target/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
log=$(mktemp -d)
pids=()
ws=
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
    # The wineserver ends its prefix's Wine processes (its services, winedevice.exe, too:
    # a TERM to it alone left them running), then itself; a KILL by its pid if it lingers.
    if [ -n "$ws" ]; then
        wineserver -k 2>/dev/null
        for _ in $(seq 50); do kill -0 "$ws" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$ws" 2>/dev/null
        wait "$ws" 2>/dev/null
    fi
    rm -rf "$log"
}
trap cleanup EXIT
# One wineserver for the whole check, kept alive between programs (-p): left to itself it
# exits when its last program does, and a program started while it shuts down can fail
# with nothing said (WINEDEBUG=-all) — a CI run under load lost a row that way. -w first
# waits for one still lingering from an earlier check.
wineserver -w 2>/dev/null
wineserver -f -p 2>/dev/null &
ws=$!
wine "$W/hb_client.exe" --version >/dev/null 2>&1 # makes the Wine prefix on the first run

failed=0
row() { printf '%-5s %-34s %-52s %s\n' "$1" "$2" "$3" "$4"; }
fail() { failed=$((failed + 1)); }

# start SIDE PROG ARGS...: run PROG (linux: target/release; win: the .exe under Wine) with
# stderr to $log/PROG.SIDE; sets $pid.
start() {
    local side=$1 prog=$2
    shift 2
    if [ "$side" = win ]; then
        RUST_LOG=debug wine "$W/$prog.exe" -t "$@" 2>"$log/$prog.$side" >"$log/$prog.$side.out" &
    else
        RUST_LOG=debug "$L/$prog" -t "$@" 2>"$log/$prog.$side" >"$log/$prog.$side.out" &
    fi
    pid=$!
    pids+=("$pid")
}

# port FILE: wait (up to 15 s) for the server's "listening on" line; prints the port.
port_of() {
    for _ in $(seq 150); do
        p=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECS: wait for PID to end within SECS; sets $st to its status, or "running".
wait_exit() {
    local i
    st=running
    for i in $(seq $(($2 * 10))); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            st=$?
            return
        fi
        sleep 0.1
    done
}

# stamp FILE TEXT: the -t stamp of the first line with TEXT.
stamp() { grep -m1 -F "$2" "$1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }

# pair NAME CLIENT SERVER CSIDE SSIDE DEAD_LINE BOUND: server, client, 3 s alive, SIGSTOP
# the server, the client must print DEAD_LINE within BOUND + 1 s of its last answer.
pair() {
    local name=$1 client=$2 server=$3 cside=$4 sside=$5 dead=$6 bound=$7 timing=(--idle 0.5 --interval 0.25)
    [ "$name" = oob ] && timing=(--interval 0.25)
    local sargs=("${timing[@]}")
    [ "$name" = oob ] && sargs=()
    start "$sside" "$server" "${sargs[@]}" 0
    local srv=$pid port
    port=$(port_of "$log/$server.$sside") || { row "$name" "$cside client → $sside server" "server did not start" FAIL; fail; return; }
    if [ "$name" = oob ]; then
        # 20 000 lines of data beside the urgent bytes, then stdin stays open.
        (seq 1 20000; sleep 20) | {
            if [ "$cside" = win ]; then RUST_LOG=debug exec wine "$W/$client.exe" -t "${timing[@]}" 127.0.0.1 "$port"
            else RUST_LOG=debug exec "$L/$client" -t "${timing[@]}" 127.0.0.1 "$port"; fi
        } 2>"$log/$client.$cside" >"$log/$client.$cside.out" &
        pid=$!
        pids+=("$pid")
    else
        start "$cside" "$client" "${timing[@]}" 127.0.0.1 "$port"
    fi
    local cli=$pid c="$log/$client.$cside"
    # Wait for the exchange (Wine takes a second or more to start, longer under load): six
    # heartbeats or urgent bytes sent (and oob's echo complete), at most 20 s.
    local want='sending heartbeat #1$'
    [ "$name" = oob ] && want='sending urgent byte'
    for _ in $(seq 200); do
        if [ "$(grep -c "$want" "$c" 2>/dev/null)" -ge 6 ]; then
            [ "$name" != oob ] && break
            [ "$(wc -l <"$log/$client.$cside.out" 2>/dev/null)" -ge 20000 ] && break
        fi
        sleep 0.1
    done
    local sent answered verdict=ok note
    if [ "$name" = oob ]; then
        sent=$(grep -c 'sending urgent byte' "$c")
        answered=$(grep -c "urgent byte '1' from the server" "$c")
        local echoed
        echoed=$(seq 1 20000 | cmp -s - "$log/$client.$cside.out" && echo "20000 lines echoed intact" || echo "echo differs")
        note="$answered of $sent urgent bytes answered, $echoed"
        { [ "$sent" -ge 5 ] && [ "$answered" -ge $((sent - 1)) ] && [ "${echoed#20000}" != "$echoed" ]; } || verdict=FAIL
    else
        sent=$(grep -c 'sending heartbeat #1$' "$c")
        local second
        second=$(grep -c 'sending heartbeat #2$' "$c")
        note="$sent heartbeats, each answered ($second unanswered)"
        { [ "$sent" -ge 5 ] && [ "$second" -eq 0 ]; } || { verdict=FAIL; note="$sent heartbeats, $second unanswered"; }
    fi
    kill -STOP "$srv"
    wait_exit "$cli" $((${bound%.*} + 9))
    local t_dead t_last
    t_dead=$(stamp "$c" "$dead")
    if [ -z "$t_dead" ] || [ "$st" != 1 ]; then
        verdict=FAIL
        note="$note; hang: status $st, no '$dead'"
    else
        if [ "$name" = oob ]; then
            t_last=$(grep "urgent byte '1' from the server" "$c" | tail -1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
        else
            t_last=$(grep 'sending heartbeat #1$' "$c" | tail -2 | head -1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
        fi
        local after
        after=$(echo "$t_dead - $t_last" | bc)
        note="$note; hang noticed $after s after the last answer (bound $bound)"
        [ "$(echo "$after <= $bound + 1" | bc)" = 1 ] || verdict=FAIL
    fi
    kill -CONT "$srv" 2>/dev/null
    kill -KILL "$srv" "$cli" 2>/dev/null
    { wait "$srv" "$cli"; } 2>/dev/null
    row "$name" "$cside client → $sside server" "$note" "$verdict"
    # A failed row shows both ends: a client ended by a reset has its cause in the server's
    # log (what it said, or that it said nothing before it closed).
    [ $verdict = ok ] || {
        fail
        echo "    client ($client.$cside):"
        grep -v 'read [0-9]* bytes' "$c" | tail -8 | sed 's/^/      /'
        echo "    server ($server.$sside):"
        grep -v 'read [0-9]* bytes' "$log/$server.$sside" | tail -8 | sed 's/^/      /'
    }
}

echo "== the Windows programs under $(wine --version 2>/dev/null), against the Linux ones"
pair hb hb_client hb_server win linux "connection dead" 1.25
pair hb hb_client hb_server linux win "connection dead" 1.25
pair hb1 hb_client1 hb_server1 win linux "connection dead" 1.25
pair hb1 hb_client1 hb_server1 linux win "connection dead" 1.25
pair oob hb_client_oob hb_server_oob win linux "server is unreachable" 1.5
pair oob hb_client_oob hb_server_oob linux win "server is unreachable" 1.5

# hb_client1.exe against a server that takes the data connection and never connects back
# (ka_server only holds connections): its accept must end within the bound (SO_RCVTIMEO
# does not bound accept on Windows).
start linux ka_server 0
srv=$pid
port=$(port_of "$log/ka_server.linux")
start win hb_client1 --idle 0.5 --interval 0.25 127.0.0.1 "$port"
cli=$pid
wait_exit "$cli" 12
kill -KILL "$srv" "$cli" 2>/dev/null
{ wait "$srv" "$cli"; } 2>/dev/null
line=$(grep -m1 'accept failure' "$log/hb_client1.win" | sed 's/^\[ *[0-9.]*\] //')
t=$(stamp "$log/hb_client1.win" 'accept failure')
t0=$(stamp "$log/hb_client1.win" 'heartbeat listener on')
verdict=ok
{ [ "$st" = 1 ] && [ -n "$t" ] && [ -n "$t0" ] && [ "$(echo "$t - $t0 <= 1.25 + 0.5" | bc)" = 1 ]; } || verdict=FAIL
row hb1 "win client, no connection back" "status $st after $(echo "${t:-0} - ${t0:-0}" | bc) s: $line" "$verdict"
[ $verdict = ok ] || { fail; tail -8 "$log/hb_client1.win" "$log/ka_server.linux" | sed 's/^/      /'; }

# hb_client1.exe turned away while it waits for the connection back: a Linux hb_server1
# that takes one client refuses the next with a line on sdata and closes it. The wait (one
# select on the listener and sdata: Winsock's select, as Wine gives it) must end at once
# with the reason. Wine's sockets are Linux's, which deliver the line before the reset
# behind it; real Winsock drops received data on a reset (README, departure 12).
start linux hb_server1 --idle 0.5 --interval 0.25 --max-clients 1 0
srv=$pid
port=$(port_of "$log/hb_server1.linux")
start linux hb_client1 --idle 0.5 --interval 0.25 127.0.0.1 "$port"
first=$pid
for _ in $(seq 100); do grep -q 'accepted' "$log/hb_server1.linux" && break; sleep 0.1; done
start win hb_client1 --idle 0.5 --interval 0.25 127.0.0.1 "$port"
cli=$pid
wait_exit "$cli" 12
kill -KILL "$srv" "$cli" "$first" 2>/dev/null
{ wait "$srv" "$cli" "$first"; } 2>/dev/null
said='it said: hb_server1: refused: 1 clients already (--max-clients)'
line=$(grep -m1 -F "$said" "$log/hb_client1.win" | sed 's/^\[ *[0-9.]*\] //')
t=$(stamp "$log/hb_client1.win" "$said")
t0=$(stamp "$log/hb_client1.win" 'heartbeat listener on')
verdict=ok
{ [ "$st" = 1 ] && [ -n "$t" ] && [ -n "$t0" ] && [ "$(echo "$t - $t0 <= 0.5" | bc)" = 1 ]; } || verdict=FAIL
row hb1 "win client, refused while waiting" "status $st after $(echo "${t:-0} - ${t0:-0}" | bc) s: $line" "$verdict"
[ $verdict = ok ] || { fail; tail -5 "$log/hb_client1.win" | sed 's/^/      /'; }

# ka_client.exe: what it sets, reads back and reports, and how a killed server ends it.
start linux ka_server 0
srv=$pid
port=$(port_of "$log/ka_server.linux")
start win ka_client --idle 4 --interval 1 --probes 3 --user-timeout 5 127.0.0.1 "$port"
cli=$pid
k="$log/ka_client.win"
for _ in $(seq 100); do grep -q 'a vanished peer is reported' "$k" && break; sleep 0.1; done
# The Windows socket is a Linux socket under Wine: the kernel's keepalive timer shows whether
# SIO_KEEPALIVE_VALS took (4 s idle, not the default 2 hours).
timer=$(ss -tno state established "dport = :$port" | grep -o 'timer:(keepalive,[^)]*)' | head -1)
kill -KILL "$srv"
{ wait "$srv"; } 2>/dev/null
wait_exit "$cli" 10
echo "== ka_client.exe --idle 4 --interval 1 --probes 3 --user-timeout 5 (server killed after it set up)"
grep -v ': debug: ' "$k" | sed 's/^\[ *[0-9.]*\] /    /'
verdict=ok
grep -q 'system defaults: .*(Windows' "$k" || verdict=FAIL
grep -q 'read back: idle' "$k" || verdict=FAIL
grep -q 'a vanished peer is reported' "$k" || verdict=FAIL
grep -q 'server terminated' "$k" && [ "$st" = 1 ] || verdict=FAIL
secs=$(echo "$timer" | sed -n 's/timer:(keepalive,\([0-9.]*\)\(m\?s\|sec\),.*/\1/p')
[ -n "$secs" ] && [ "$(echo "$secs <= 4" | bc)" = 1 ] || verdict=FAIL
echo "    kernel's view of its socket (ss): $timer"
row ka "win client → linux server" "idle 4 s in the kernel; killed server: status $st" "$verdict"
[ $verdict = ok ] || fail

if [ $failed -gt 0 ]; then
    echo "check-windows: $failed check(s) failed"
    exit 1
fi
echo "check-windows: all ok"
