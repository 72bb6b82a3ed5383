/**
 * Writes the import graph of src/, machines/ and templates/ as plain JavaScript under
 * dist/import-graph/, one file per source file holding only its imports, for dependency-cruiser
 * (`npm run lint:deps`).
 *
 * Why not point dependency-cruiser at the .ts files: it parses TypeScript through the `typescript`
 * package's compiler API, and TypeScript 7 (the native compiler this project builds with) has no
 * JavaScript API, so it would see no .ts file at all. Why not at the compiled dist/: the build erases
 * type-only imports, and a type-only import is still a dependency the layering rules care about
 * (rehearse.ts ↔ report.ts was a circle through `import type`). So the imports are read here, `type`
 * or not, static or dynamic, and written as `import 'x';` lines that acorn reads.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const roots = ['src', 'machines', 'templates'];
const out = 'dist/import-graph';

// `import … from 'x'`, `export … from 'x'` (multi-line, `type` or not), `import 'x'`, `import('x')`.
// Read by pattern, not parsed: a line inside a template string that reads like an import counts too
// (src/config/example.ts writes `import { defineConfig } from 'cutover'` into plan files), which
// is harmless for a package name and would show as an unresolvable relative import otherwise.
const staticImport = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gms;
const dynamicImport = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

rmSync(out, { recursive: true, force: true });
let files = 0;
for (const root of roots) {
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const lines = [];
    for (const match of text.matchAll(staticImport)) lines.push(`import '${match[1]}';`);
    for (const match of text.matchAll(dynamicImport)) lines.push(`import('${match[1]}');`);
    const target = join(out, file.replace(/\.tsx?$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${lines.join('\n')}\n`);
    files += 1;
  }
}
console.log(`import graph of ${files} files written to ${out}/`);
