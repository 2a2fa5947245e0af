#!/usr/bin/env bash
# What `--render auto` costs on a site that needs no browser: the project crawls
# ../shared/bench's generated static site (10k pages) with `--render never` and with
# `--render auto`, interleaved (never auto never auto ...), and prints medians and the
# paired ratios auto / never. Run from the project's root with the project in .venv:
#
#   bash bench/render_auto.sh                  # 10k pages, 3 rounds: about 5 min on 2 cores
#   PAGES=2000 REPEAT=1 bash bench/render_auto.sh
#
# Uses the shared harness (crawlrun.py, project_crawl.sh, nginx, a private redis-server on
# 127.0.0.1:6390 whose CPU is counted); its setup_env.sh installs what it needs.
set -euo pipefail
BENCH="${BENCH:-$PWD/../shared/bench}"
[ -x "$BENCH/project_crawl.sh" ] || { echo "no shared benchmark harness at $BENCH (set BENCH)" >&2; exit 2; }
export CRAWLER_BIN="${CRAWLER_BIN:-$PWD/.venv/bin/crawler}" BENCH_TMP="${BENCH_TMP:-/tmp/crawlbench}"
export BENCH_REDIS_PORT="${BENCH_REDIS_PORT:-6390}"
PAGES="${PAGES:-10000}"; REPEAT="${REPEAT:-3}"
ANCHOR_VENV="${ANCHOR_VENV:-/tmp/anchorenv}"
[ -x "$ANCHOR_VENV/bin/python" ] || "$BENCH/setup_env.sh" "$ANCHOR_VENV" >&2
PY="$ANCHOR_VENV/bin/python"
started_redis=0
if ! redis-cli -p "$BENCH_REDIS_PORT" ping >/dev/null 2>&1; then
  "$BENCH/harness/redis_private.sh" start >&2; started_redis=1
fi
SITE="$BENCH_TMP/site-$PAGES"
[ -f "$SITE/manifest.json" ] || "$PY" "$BENCH/site/gen_site.py" -n "$PAGES" -o "$SITE" >&2
EXPECT="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['expected_html_200'])" "$SITE/manifest.json")"
"$BENCH/site/serve.sh" start "$SITE" >&2
cleanup() {
  "$BENCH/site/serve.sh" stop >&2 || true
  if [ "$started_redis" = 1 ]; then "$BENCH/harness/redis_private.sh" stop >&2 || true; fi
}
trap cleanup EXIT
redis="CRAWLER_REDIS_URL=redis://127.0.0.1:$BENCH_REDIS_PORT/3"
out="$BENCH_TMP/render-auto-$(date +%Y%m%d-%H%M%S)"; mkdir -p "$out"
"$PY" "$BENCH/harness/crawlrun.py" --repeat "$REPEAT" --expect "$EXPECT" --count-redis-cpu --timeout 900 \
  --title "render=auto on a static site of $PAGES pages" --json-out "$out/crawl.jsonl" --logdir "$out/logs" \
  --case "never=env $redis $BENCH/project_crawl.sh never" \
  --case "auto=env $redis $BENCH/project_crawl.sh auto --render auto"
echo "results and logs: $out"
