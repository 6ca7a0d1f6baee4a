#!/usr/bin/env bash
# make lab: every pair through every fate, each in its own private network namespace, then
# the table, the diagrams and target/lab.json.   PAIR=ka SCENARIO=gone make lab: just one.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-.}
pairs=${PAIR:-}; pairs=${pairs:-hb hb1 oob ka}
fates=${SCENARIO:-}; fates=${fates:-alive killed hung gone rebooted}

# A namespace of our own: unshare -n as root, unshare -rn (a user namespace) otherwise.
if [ "$(id -u)" = 0 ]; then ns="unshare -n"; else ns="unshare -rn"; fi
why=""
for tool in unshare ip iptables; do command -v $tool >/dev/null || why="$why no $tool;"; done
[ -z "$why" ] && ! $ns true 2>/dev/null && why="$ns is not allowed here;"

dirs=()
for pair in $pairs; do
  for fate in $fates; do
    out=target/lab/$pair-$fate
    dirs+=("$out")
    case $pair in hb|hb1) watch=8 ;; oob) watch=6 ;; *) watch=9 ;; esac
    if [ -n "$why" ]; then
      mkdir -p "$out" && echo "$pair $fate" >"$out/run" && echo "$why" >"$out/skipped"
      continue
    fi
    echo "== $pair / $fate" >&2
    rm -f "$out/skipped"
    BIN=$BIN OUT=$out WATCH=$watch $ns bash lab/scenario.sh "$pair" "$fate"
  done
done
"$BIN/hb_lab" "${dirs[@]}"
