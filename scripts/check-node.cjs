// Runs at install (preinstall) on whatever Node the user has, so it uses nothing newer than Node 8.
// cutover needs Node 22 (ink 8, vitest 5, p-retry 9, supabase-js): say so once, before anything is
// installed that would fail later in obscure ways.
var major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error('cutover needs Node.js 22 or newer; this is ' + process.versions.node + '. Install Node 22 (e.g. npm install --prefix .toolchain node@22 and put .toolchain/node_modules/.bin first on PATH), then install again.');
  process.exit(1);
}
