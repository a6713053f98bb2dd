#!/usr/bin/env bash
# Prints what a browser downloads for the chart page, and the script
# editor's bundle (loaded only where signal scripts are edited), raw and
# gzipped (as the server's compression sends it), from the built site.
set -euo pipefail
site="${LEPTOS_SITE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/site}"
printf '%-28s %10s %10s\n' file bytes gzipped
total_raw=0
total_gz=0
for file in pkg/inchart.wasm pkg/inchart.js pkg/inchart.css vendor/inchart-chart.js vendor/inchart-editor.js; do
  [ -f "$site/$file" ] || { echo "$site/$file is missing: build the site first" >&2; exit 1; }
  raw=$(stat -c %s "$site/$file")
  gz=$(gzip -6 -c "$site/$file" | wc -c)
  total_raw=$((total_raw + raw))
  total_gz=$((total_gz + gz))
  printf '%-28s %10d %10d\n' "$file" "$raw" "$gz"
done
printf '%-28s %10d %10d\n' total "$total_raw" "$total_gz"
