import type { Io } from '../services/io.js';

export type { GlobalOptions, Io } from '../services/io.js';

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: Boolean(process.stdout.isTTY && process.stdin.isTTY),
  env: process.env,
};
