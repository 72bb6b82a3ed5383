// `prepare` runs on every `npm install` / `npm ci` in a clone. With --omit=dev there is no TypeScript
// to build with: say what that means instead of failing with "tsc: not found".
var spawnSync = require('child_process').spawnSync;
var join = require('path').join;
var dirname = require('path').dirname;
var tsc;
try {
  tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
} catch (error) {
  console.error('cutover: dist/ not built (TypeScript is a dev dependency and was omitted). Run npm ci without --omit=dev to build, or install the packed tarball instead.');
  process.exit(0);
}
var result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
