import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StepAction, StepContext } from '../types.js';
import { writeTarGz } from './tar.js';

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Write `content` to `path` with mode 0600, also when the file already existed with another mode. */
async function writeOwnerOnly(path: string, content: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

function paths(ctx: StepContext) {
  const exportsRoot = resolve(ctx.planDir, ctx.plan.exportsDir);
  return { exportsRoot, folder: join(exportsRoot, ctx.runId), archive: join(exportsRoot, `${ctx.runId}.tar.gz`) };
}

/**
 * close.archive: the run's exports as one tarball with a SHA256SUMS file inside and the archive's own
 * checksum beside it, kept for the retention period. Written to a temporary name and renamed, so a
 * resumed run either finds the whole archive (and checks it) or makes it again.
 */
export const archiveExports: StepAction = {
  async run(ctx) {
    const { exportsRoot, folder, archive } = paths(ctx);
    if (!existsSync(folder)) return { summary: `nothing to archive: ${folder} does not exist (no export was made in this run)`, output: { archived: false } };
    const sumsFile = `${archive}.sha256`;
    if (existsSync(archive) && existsSync(sumsFile)) {
      const [expected] = (await readFile(sumsFile, 'utf8')).split(' ');
      if (expected === (await sha256(archive))) return { summary: `already archived: ${archive}`, output: { archive, sha256: expected, bytes: (await stat(archive)).size } };
    }
    const files = (await readdir(folder)).filter((name) => name !== 'SHA256SUMS').sort();
    const sums = [];
    for (const name of files) sums.push(`${await sha256(join(folder, name))}  ${name}`);
    await writeOwnerOnly(join(folder, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    const partial = `${archive}.part`;
    await rm(partial, { force: true });
    // The tarball holds user data: it exists owner-only before a byte is written into it, whatever the
    // umask and the mode of an existing exports folder.
    await writeOwnerOnly(partial, '');
    // In-process, not a `tar` child: a child would outlive a killed runner and keep writing.
    await writeTarGz(exportsRoot, ctx.runId, partial, ctx.signal);
    await chmod(partial, 0o600);
    const digest = await sha256(partial);
    await rename(partial, archive);
    await writeOwnerOnly(sumsFile, `${digest}  ${ctx.runId}.tar.gz\n`);
    const bytes = (await stat(archive)).size;
    return { summary: `archived ${files.length} files into ${archive} (${bytes.toLocaleString('en-US')} bytes, sha256 ${digest.slice(0, 12)}…)`, output: { archive, sha256: digest, bytes, files: files.length } };
  },
  dryRun: (ctx) => {
    const { folder, archive } = paths(ctx);
    return `tar -czf ${archive} ${folder} (with SHA256SUMS of every file inside, and ${archive}.sha256 beside it)`;
  },
};
