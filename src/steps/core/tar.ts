import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/**
 * A gzip'd tar of one folder, written in-process (POSIX ustar, with a pax header for long names and
 * for files of 8 GiB or more). In-process because a `tar`/`gzip` child survives a SIGKILL of the
 * runner and keeps writing an archive nobody will rename; a stream dies with the process. Any `tar`
 * reads the result (`tar -xzf`).
 */

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits: just under 8 GiB

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): string {
  // "<length> <key>=<value>\n", where the length counts itself.
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

function header(name: string, size: number, mode: number, mtime: number, type: '0' | '5' | 'x'): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write(octal(mode, 8), 100);
  block.write(octal(0, 8), 108);
  block.write(octal(0, 8), 116);
  block.write(octal(Math.min(size, MAX_OCTAL_SIZE), 12), 124);
  block.write(octal(Math.floor(mtime / 1000), 12), 136);
  block.write(' '.repeat(8), 148);
  block.write(type, 156);
  block.write('ustar\0', 257);
  block.write('00', 263);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

function entryHeaders(name: string, size: number, mode: number, mtime: number, type: '0' | '5'): Buffer[] {
  const pax: string[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
  if (size > MAX_OCTAL_SIZE) pax.push(paxRecord('size', String(size)));
  if (pax.length === 0) return [header(name, size, mode, mtime, type)];
  const body = Buffer.from(pax.join(''));
  return [header('PaxHeader', body.length, 0o644, mtime, 'x'), pad(body), header(name, size, mode, mtime, type)];
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

async function* tarStream(root: string, folder: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const dir = join(root, folder);
  const info = await stat(dir);
  yield* entryHeaders(`${folder}/`, 0, 0o700, info.mtimeMs, '5');
  for (const name of (await readdir(dir)).sort()) {
    signal?.throwIfAborted();
    const path = join(dir, name);
    const file = await stat(path);
    if (!file.isFile()) continue;
    yield* entryHeaders(`${folder}/${name}`, file.size, file.mode & 0o777, file.mtimeMs, '0');
    let written = 0;
    for await (const chunk of createReadStream(path, { signal })) {
      written += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (written !== file.size) throw new Error(`${path} changed size while it was archived (${file.size} → ${written} bytes)`);
    if (written % BLOCK) yield Buffer.alloc(BLOCK - (written % BLOCK));
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Write `<root>/<folder>` as a .tar.gz to `target` (what `tar -czf target -C root folder` makes). */
export async function writeTarGz(root: string, folder: string, target: string, signal?: AbortSignal): Promise<void> {
  await pipeline(Readable.from(tarStream(root, folder, signal)), createGzip(), createWriteStream(target, { mode: 0o600, flush: true }), ...(signal ? [{ signal }] : []));
}
