#!/usr/bin/env bash
# Scores the release build with Lighthouse (npm, pinned in
# scripts/lighthouse/package.json) in Debian's headless Chromium: `/`,
# `/pricing` and `/chart/BTCUSDT`, each once with Lighthouse's default
# (mobile, simulated slow 4G and a 4x slower CPU) and once with
# `--preset=desktop`. The JSON reports go to target/lighthouse/; a table of
# the four category scores and the main metrics is printed at the end.
#
# Build first (scripts/run.sh, or `source scripts/setup.sh; build_site`):
# this script uses target/site and $CARGO_TARGET_DIR/release/inchart as
# they are. The server runs on its embedded defaults, as scripts/run.sh
# starts it, on a free port of 127.0.0.1 with a fresh SQLite file, the
# in-process cache and Binance pointed at a closed local port, so the
# simulated feed serves from the first second. It is stopped on exit.
#
# Scores on a busy machine move by several points between runs: compare
# runs made on the same machine, at rest.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/inchart/target}"
bin="$CARGO_TARGET_DIR/release/inchart"
site="$root/target/site"
out="$root/target/lighthouse"
tools="$root/scripts/lighthouse"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { echo "$*" >&2; exit 1; }

[ -x "$bin" ] || fail "$bin is missing: build the release site first (scripts/run.sh or build_site)"
[ -f "$site/pkg/inchart.css" ] || fail "$site is not built: build the release site first (scripts/run.sh or build_site)"
[ -x "$CHROME_PATH" ] || fail "no Chromium at $CHROME_PATH: apt-get install chromium, or set CHROME_PATH"
command -v node >/dev/null || fail "Node.js is missing: apt-get install nodejs npm"

stamp="$tools/node_modules/.inchart-lock"
if ! cmp -s "$tools/package-lock.json" "$stamp" 2>/dev/null; then
  log "installing Lighthouse from npm"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error) >&2
  cp "$tools/package-lock.json" "$stamp"
fi

port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
base="http://127.0.0.1:$port"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/inchart-lighthouse.XXXXXX")"
mkdir -p "$out"
rm -f "$out"/*.json

server=""
stop_server() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

log "starting InChart on $base (log: target/lighthouse/server.log)"
# Port 9 on 127.0.0.1 (discard) is closed here: Binance fails at once and
# the simulated feed serves. Script workers start on first use only.
(
  cd "$root"
  exec env \
    INCHART_LISTEN="127.0.0.1:$port" \
    DATABASE_URL="sqlite://$scratch/inchart.db?mode=rwc" \
    LEPTOS_SITE_ROOT="$site" \
    INCHART_BINANCE_REST_URL="${INCHART_BINANCE_REST_URL:-http://127.0.0.1:9}" \
    INCHART_BINANCE_WS_URL="${INCHART_BINANCE_WS_URL:-ws://127.0.0.1:9}" \
    INCHART_SCRIPT_WARM=false \
    "$bin" serve
) >"$out/server.log" 2>&1 &
server=$!

ready=""
for _ in $(seq 1 120); do
  kill -0 "$server" 2>/dev/null || fail "InChart stopped while starting: see $out/server.log"
  if curl -fsS "$base/readyz" >"$scratch/ready.json" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || fail "InChart did not become ready on $base within 60 s: see $out/server.log"
# The chart page is measured with its history in place, as a visitor sees it.
for _ in $(seq 1 120); do
  curl -fsS "$base/readyz" >"$scratch/ready.json" 2>/dev/null || true
  [ "$(jq -r '.market.filled // true' "$scratch/ready.json" 2>/dev/null)" = "true" ] && break
  sleep 0.5
done
log "ready: $(jq -c '{status, market: .market.feed}' "$scratch/ready.json" 2>/dev/null || cat "$scratch/ready.json")"

chrome_flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --no-first-run"
pages=("/" "/pricing" "/chart/BTCUSDT")
reports=()
for preset in mobile desktop; do
  for page in "${pages[@]}"; do
    name="$(printf '%s' "$page" | tr -c 'A-Za-z0-9' '-' | sed 's/^-*//; s/-*$//')"
    report="$out/${name:-home}.$preset.json"
    args=()
    [ "$preset" = desktop ] && args+=(--preset=desktop)
    log "lighthouse $page ($preset)"
    "$tools/node_modules/.bin/lighthouse" "$base$page" \
      --output=json --output-path="$report" --quiet \
      --only-categories=performance,accessibility,best-practices,seo \
      --chrome-flags="$chrome_flags" "${args[@]}" ||
      echo "lighthouse failed on $page ($preset)" >&2
    [ -f "$report" ] && reports+=("$report")
  done
done

[ "${#reports[@]}" -gt 0 ] || fail "Lighthouse wrote no report"
node - "${reports[@]}" <<'JS'
const fs = require("fs");
const rows = process.argv.slice(2).map((file) => {
  const report = JSON.parse(fs.readFileSync(file, "utf8"));
  const score = (id) => {
    const value = report.categories[id]?.score;
    return value == null ? "-" : String(Math.round(value * 100));
  };
  const metric = (id) => report.audits[id]?.displayValue ?? "-";
  return {
    page: new URL(report.finalDisplayedUrl ?? report.requestedUrl).pathname,
    preset: report.configSettings.formFactor,
    perf: score("performance"),
    a11y: score("accessibility"),
    bp: score("best-practices"),
    seo: score("seo"),
    fcp: metric("first-contentful-paint"),
    lcp: metric("largest-contentful-paint"),
    tbt: metric("total-blocking-time"),
    cls: metric("cumulative-layout-shift"),
    si: metric("speed-index"),
    error: report.runtimeError?.code,
  };
});
const columns = ["page", "preset", "perf", "a11y", "bp", "seo", "fcp", "lcp", "tbt", "cls", "si"];
const heads = { page: "page", preset: "preset", perf: "perf", a11y: "a11y", bp: "best-pr", seo: "seo", fcp: "FCP", lcp: "LCP", tbt: "TBT", cls: "CLS", si: "SI" };
const width = Object.fromEntries(columns.map((c) => [c, Math.max(heads[c].length, ...rows.map((r) => String(r[c]).length))]));
const line = (r) => columns.map((c) => String(r[c]).padEnd(width[c])).join("  ").trimEnd();
console.log(line(heads));
for (const r of rows) console.log(line(r) + (r.error ? `  (${r.error})` : ""));
JS
log "reports: $out"
