// Runs a TypeScript module in a plain Node process (no vitest), through Vite's module runner: the
// same transform the tests use, so a child process can run real step code and be SIGKILLed.
import { fileURLToPath } from 'node:url';
import { runnerImport } from 'vite';

const root = fileURLToPath(new URL('../../..', import.meta.url));
await runnerImport(process.argv[2], { configFile: false, root, logLevel: 'silent' });
