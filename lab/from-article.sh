#!/usr/bin/env bash
# Build the article's own C programs from the article's text, for docs/LAB.md's exercise
# "the port against the C". The project never contains that C: you bring the article.
#
#   bash lab/from-article.sh ARTICLE.txt [DIR] [T1 T2]
#
# ARTICLE.txt is seed 000 ("TCP存活检测机制") saved as plain text. Its C files follow banner
# lines such as /*****readn.h*****/ and /*****hb_client.c*****/; each file runs to the next
# banner, or to the last closing brace before the article's prose goes on. Typographic
# quotes and non-breaking spaces (which a web page puts into code) are made plain again.
# T1 and T2 (default 60 and 10, as printed) replace the article's #defines, so the lab can
# watch heartbeats every few seconds. Builds with gcc as the article's Makefile does;
# readn.c uses error(3) without including <error.h>, so it gets -include error.h.
set -eu
article=${1:?usage: bash lab/from-article.sh ARTICLE.txt [DIR] [T1 T2]}
dir=${2:-target/article-c} t1=${3:-60} t2=${4:-10}
mkdir -p "$dir"
awk -v dir="$dir" '
  function flush(   i, last) {
    if (name == "") return
    last = n
    if (name ~ /\.c$/) while (last > 0 && lines[last] !~ /^}/) last--
    for (i = 1; i <= last; i++) print lines[i] > (dir "/" name)
    close(dir "/" name); print name; name = ""; n = 0
  }
  /^\/\*\*\*\*+[A-Za-z0-9_.]+\*\*\*\*+\/[ \t]*$/ {
    flush(); name = $0; gsub(/[\/*[:space:]]/, "", name)
    if (name !~ /\.[ch]$/) name = name ".c"
    next
  }
  /Makefile/ || /^带外数据/ { flush() }
  name != "" { lines[++n] = $0 }
  END { flush() }
' "$article" >"$dir/files"
for f in $(cat "$dir/files"); do
  sed -i -e 's/\xc2\xa0/ /g' -e 's/[“”]/"/g' -e "s/[‘’]/'/g" "$dir/$f"
done
sed -i -e "s/^#define T1[[:space:]].*/#define T1 $t1/" -e "s/^#define T2[[:space:]].*/#define T2 $t2/" "$dir/readn.h"
cd "$dir"
gcc -w -c readn.c -include error.h -o readn.o
for p in hb_client hb_server hb_client1 hb_server1; do
  [ -f $p.c ] && gcc -w $p.c readn.o -o $p && echo "built $dir/$p (T1=$t1, T2=$t2)"
done
