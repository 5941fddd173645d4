#!/usr/bin/env bash
# Checks the JavaScript client SDK in clients/js: installs its dev dependencies (npm ci, from the
# committed package-lock.json), builds the reference servers (debug, like the browser test),
# typechecks the TypeScript declarations (tsc --noEmit), runs the tests (node --test) against
# each server, axum then warp (each test file starts its own on a free 127.0.0.1 port with a
# throw-away SQLite file, and kills only what it started), and checks that `npm pack` makes a package that installs
# into an empty project and imports, types included.
#
# Without node or npm it prints a SKIPPED line and exits 0; under CI=true it fails instead.
# Every step is bounded in time. Honors CARGO_TARGET_DIR. Usage: scripts/js-client-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLIENT="$ROOT/clients/js"

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAILED: JavaScript client test cannot run under CI=true: $*" >&2
        exit 1
    fi
    echo "SKIPPED: JavaScript client test: $*"
    exit 0
}

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || skip "node $NODE_MAJOR is too old (need 20+)"

echo "== npm ci (clients/js)"
if ! (cd "$CLIENT" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
    skip "npm ci failed in clients/js (no access to the npm registry?)"
fi

echo "== cargo build -p axum-server -p warp-server"
timeout 1800 cargo build -p axum-server -p warp-server
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')

echo "== typecheck (tsc --noEmit)"
(cd "$CLIENT" && timeout 120 npm run --silent typecheck)

# The same suite against each reference server.
for server in axum warp; do
    export CHAT_SERVER_BIN="$TARGET_DIR/debug/$server-server"
    echo "== tests (node --test, against $CHAT_SERVER_BIN)"
    (cd "$CLIENT" && timeout 300 npm test --silent)
done

echo "== npm pack, install the tarball into an empty project, import it"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/chat-js-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TARBALL=$(cd "$CLIENT" && npm pack --silent --pack-destination "$WORK" | tail -n 1)
unexpected=$(tar -tzf "$WORK/$TARBALL" | grep -Ev '^package/(package\.json|README\.md|src/[a-z-]+\.(js|d\.ts))$' || true)
[ -z "$unexpected" ] || { echo "!! unexpected files in the package:"; echo "$unexpected"; exit 1; }
mkdir "$WORK/app"
cd "$WORK/app"
printf '{"name":"pack-check","private":true,"type":"module"}\n' >package.json
timeout 120 npm install --no-audit --no-fund --loglevel=error "$WORK/$TARBALL"
cat >check.mjs <<'EOF'
import { ChatApi, ChatClient, parseFrames } from '@chat/client';
const client = new ChatClient({ baseUrl: 'http://127.0.0.1:9' });
if (client.state !== 'closed' || !(client.api instanceof ChatApi)) throw new Error('bad client');
if (parseFrames('{"type":"pong"}\n{"type":"pong"}').length !== 2) throw new Error('bad parse');
console.log('imported @chat/client from the packed tarball');
EOF
timeout 30 node check.mjs
cat >check.ts <<'EOF'
import { ChatClient, type MessageFrame } from '@chat/client';
const client = new ChatClient({ baseUrl: 'https://example.com/chat', token: () => 'token' });
client.on('message', (m: MessageFrame) => m.seq.toFixed());
EOF
printf '{"compilerOptions":{"module":"nodenext","strict":true,"noEmit":true,"lib":["es2022","dom"],"types":[]},"files":["check.ts"]}\n' >tsconfig.json
timeout 120 "$CLIENT/node_modules/.bin/tsc" -p tsconfig.json
echo "== JavaScript client: passed"
