#!/usr/bin/env bash
# make e2e-dashboard: the official KubeRay Dashboard (../shared/kuberay/dashboard, Next.js), built
# and served locally, driven in headless Chromium (playwright-core, Debian's /usr/bin/chromium)
# against `kuberay-apiserver dev` (the gateway over fakekube with the simulated KubeRay operator).
#
# Steps: copy the Dashboard's sources to build/dashboard (never into the repository's tracked
# tree), `yarn install` with its bundled yarn 4 and lockfile, `next build` (skipped when the build
# is newer than the sources), then start the gateway on a free port with the Dashboard's origin
# allowed by CORS (KUBERAY_APISERVER_CORS_ALLOW_ORIGIN), `next start` with API_DOMAIN pointing at
# it, and run drive.mjs. Screenshots and summary.json go to build/e2e-dashboard/.
#
# Anything missing (Node.js, npm, Chromium, the Dashboard's sources) fails the run with a message
# saying what and how to get it: this target exists to run the browser, so it never skips.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SRC="${KUBERAY_SHARED:-$REPO/../shared/kuberay}/dashboard"
BUILD="$REPO/build/dashboard"
OUT="$REPO/build/e2e-dashboard"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMIUM NEXT_TELEMETRY_DISABLED=1 YARN_ENABLE_TELEMETRY=0
# yarn 4 defaults to registry.yarnpkg.com; the npm registry serves the same tarballs.
export YARN_NPM_REGISTRY_SERVER="${YARN_NPM_REGISTRY_SERVER:-https://registry.npmjs.org}"

missing() {
  echo "e2e-dashboard: MISSING: $1" >&2
  [ -n "${CI:-}" ] && echo "e2e-dashboard: (CI is set) failing." >&2
  exit 1
}
command -v node >/dev/null || missing "node (Node.js 20+)"
command -v npm >/dev/null || missing "npm"
[ -x "$CHROMIUM" ] || missing "Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
[ -f "$SRC/package.json" ] || missing "the KubeRay Dashboard's sources at $SRC (../shared/kuberay/dashboard)"
[ -x "$REPO/.venv/bin/kuberay-apiserver" ] || missing "$REPO/.venv (make .venv/.installed)"

step() { echo "== e2e-dashboard: $*"; }

# The driver's one dependency, pinned by package-lock.json.
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  step "npm ci (playwright-core)"
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

# The Dashboard: sources copied next to the build, installed and built once per change.
mkdir -p "$BUILD" "$OUT"
if [ ! -f "$BUILD/.next/BUILD_ID" ] || [ -n "$(find "$SRC" -path "$SRC/node_modules" -prune -o -newer "$BUILD/.next/BUILD_ID" -type f -print -quit)" ]; then
  step "copying $SRC to $BUILD"
  (cd "$SRC" && tar --exclude=./node_modules --exclude=./.next -cf - .) | (cd "$BUILD" && tar -xf -)
  step "yarn install (bundled yarn 4, immutable lockfile)"
  (cd "$BUILD" && node .yarn/releases/yarn-4.*.cjs install --immutable)
  step "next build"
  (cd "$BUILD" && node_modules/.bin/next build)
else
  step "Dashboard build is up to date ($BUILD/.next)"
fi

free_port() { "$REPO/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GW_PORT="$(free_port)"
UI_PORT="$(free_port)"
GATEWAY="http://127.0.0.1:$GW_PORT"
DASHBOARD="http://127.0.0.1:$UI_PORT"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_http() { # URL NAME LOG
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "e2e-dashboard: $2 not answering at $1 after 120 s; its log:" >&2
  tail -40 "$3" >&2
  exit 1
}

step "kuberay-apiserver dev on $GATEWAY (CORS origin $DASHBOARD)"
KUBERAY_APISERVER_CORS_ALLOW_ORIGIN="$DASHBOARD" setsid "$REPO/.venv/bin/kuberay-apiserver" dev \
  --port "$GW_PORT" >"$OUT/gateway.log" 2>&1 &
pids+=($!)
wait_http "$GATEWAY/healthz" "the gateway" "$OUT/gateway.log"

step "next start on $DASHBOARD (API_DOMAIN=$GATEWAY)"
API_DOMAIN="$GATEWAY" DEFAULT_NAMESPACE=default setsid bash -c 'cd "$1" && exec node_modules/.bin/next start -H 127.0.0.1 -p "$2"' \
  _ "$BUILD" "$UI_PORT" >"$OUT/dashboard.log" 2>&1 &
pids+=($!)
wait_http "$DASHBOARD/api/config" "the Dashboard" "$OUT/dashboard.log"

step "driving it in headless Chromium ($CHROMIUM)"
rm -f "$OUT"/*.png
node "$HERE/drive.mjs" "$DASHBOARD" "$GATEWAY" "$OUT"
step "passed; screenshots in $OUT"
