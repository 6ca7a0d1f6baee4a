#!/usr/bin/env bash
# make lab: every pair through every fate that concerns it, each run on a wire of its own
# (client, router and server in private network namespaces: lab/topology.sh), LAB_JOBS runs
# at a time; then the diagrams, the pictures, the table, lab.json and index.html (hb_lab).
#   make lab PAIR=ka SCENARIO=gone IDLE=2 INTERVAL=1 PROBES=2   just one, with other settings
# Every invocation keeps its results in a folder of its own, LAB_ROOT/<date>_<time>/ (LAB_ROOT
# is target/lab), one sub-folder per run, and points LAB_ROOT/latest at it: the next
# invocation never overwrites this one's.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-.}                           # the port's programs (make copies them here)
LAB_BIN=${LAB_BIN:-target/release}      # the lab's own: hb_lab, hb_wire (lab/, heartbeat-lab)
jobs=${LAB_JOBS:-4}

# Which pairs meet which fate. The writing pairs exist for busy-gone; the statistical fates
# run the in-band pair twice: a setting that gives false deaths (tight) and one that does not.
classic="alive killed hung gone rebooted partition flap nat-idle"
pairs_of() { "$LAB_BIN/hb_lab" --pairs "$1"; }   # lab/src/knobs.rs
variants() {   # fate -> the settings each run takes, unless the knobs already say
  case $1 in
    slow)  echo "tight:INTERVAL=0.1,PROBES=3 loose:INTERVAL=0.5,PROBES=3" ;;
    lossy) echo "tight:IDLE=0.1,INTERVAL=0.05,PROBES=2 loose:IDLE=1,INTERVAL=2,PROBES=8" ;;
    *) echo "-:" ;;
  esac
}
fates=${SCENARIO:-}; fates=${fates:-$classic busy-gone lossy slow}

# Every knob is checked before anything runs: one line naming a bad one, exit 2, no folder.
[ -x "$LAB_BIN/hb_lab" ] || { echo "lab: $LAB_BIN/hb_lab is missing (make lab builds it)" >&2; exit 2; }
"$LAB_BIN/hb_lab" --check-knobs || exit 2

# Namespaces of our own: root, or a user namespace where the kernel allows one. They vanish
# with the run even when it is killed: this script's death kills each unshare (setpriv
# --pdeathsig), whose death kills the run's first process (--kill-child), whose death makes
# the kernel kill every process in its PID namespace — the holders of the namespaces too.
ns="setpriv --pdeathsig KILL unshare --net --pid --fork --kill-child --mount-proc"
[ "$(id -u)" = 0 ] || ns="setpriv --pdeathsig KILL unshare --map-root-user --net --pid --fork --kill-child --mount-proc"
trap 'kill -KILL $(jobs -p) 2>/dev/null; exit 130' INT TERM HUP
why=""
for tool in setpriv unshare nsenter ip iptables ethtool tcpdump awk; do
  command -v $tool >/dev/null || why="$why no $tool;"
done
[ -z "$why" ] && ! $ns true 2>/dev/null && why="$why $ns is not allowed here;"
# LAB_PLAN=1: make each run's folder with the settings it would run with, and run nothing
# (the tests compare a document's command with the runs another invocation made).
plan=${LAB_PLAN:-}; [ -n "$plan" ] && why="planned only (LAB_PLAN=$plan)"

root=${LAB_ROOT:-target/lab}
stamp=$root/$(date +%Y-%m-%d_%H-%M-%S) lab=$stamp n=1
mkdir -p "$root"
until mkdir "$lab" 2>/dev/null; do n=$((n + 1)); lab=$stamp-$n; done   # two in one second
ln -sfn "${lab##*/}" "$root/latest"

dirs=()
running=0
for fate in $fates; do
  for pair in ${PAIR:-$(pairs_of "$fate")}; do
    vs=$(variants "$fate"); case $pair in ka*) vs="-:" ;; esac   # the variants are hb's settings
    for v in $vs; do
      name=${v%%:*} knobs=${v#*:}
      if [ "$name" != - ] && [ -n "${INTERVAL:-}${PROBES:-}${IDLE:-}" ]; then
        [ "$name" = tight ] && continue      # the knobs name one setting: one run
        name=- knobs=
      fi
      out=$lab/$pair-$fate; [ "$name" != - ] && out=$out-$name
      dirs+=("$out"); mkdir -p "$out"
      if [ -n "$why" ]; then   # recorded with its settings, never run
        (PAIR=$pair FATE=$fate OUT=$out PORT=9000; [ -n "$knobs" ] && export ${knobs//,/ }
         source lab/topology.sh && source lab/settings.sh)
        echo "$why" >"$out/skipped"; continue
      fi
      echo "== $pair / $fate${name/#-/}" >&2
      (
        [ -n "$knobs" ] && export ${knobs//,/ }
        BIN=$BIN LAB_BIN=$LAB_BIN OUT=$out exec $ns bash lab/scenario.sh "$pair" "$fate"
      ) >"$out/scenario.log" 2>&1 &
      running=$((running + 1))
      if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    done
  done
done
wait
[ ${#dirs[@]} -gt 0 ] || { echo "lab: no run for PAIR=${PAIR:-} SCENARIO=${SCENARIO:-}" >&2; exit 2; }
[ -n "$plan" ] && { echo "== planned in $lab" >&2; exit 0; }
echo "== results in $lab (and $root/latest)" >&2
"$LAB_BIN/hb_lab" --out "$lab" "${dirs[@]}"
