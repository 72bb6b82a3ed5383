import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';

/**
 * Run the real CLI entry in-process with captured output. `as` is the OS account the command runs as
 * (Io.account): one test process cannot be several OS users; the default is the real one.
 */
export async function cli(args: string[], env: Record<string, string | undefined> = {}, as?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (text) => (stdout += `${text}\n`),
    err: (text) => (stderr += `${text}\n`),
    interactive: false,
    env: { PATH: process.env.PATH, ...env },
    ...(as ? { account: as } : {}),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}
