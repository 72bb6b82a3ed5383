import { rm } from 'node:fs/promises';
import type { Database } from '../../adapters/postgres.js';
import type { Progress } from '../types.js';
import { exportTables } from './export.js';

/**
 * final.export-dry-run: a real, timed export into a scratch folder (deleted afterwards: it holds
 * personal data), turned into a forecast of the data path's share of the maintenance window.
 *
 * Only the export can be measured without touching the target, so load and verify are estimated
 * from it with ratios measured by bench/data-path.ts on FreshTrack readings: loading (COPY, index
 * rebuild, ANALYZE) took about 2.5× the export, and verifying both sides about 1× (rounded up).
 */
export const LOAD_PER_EXPORT = 2.5;
export const VERIFY_PER_EXPORT = 1;

export interface DowntimeForecast {
  rows: number;
  bytes: number;
  exportMs: number;
  rowsPerSecond: number;
  forecast: { quietWindowMs: number; exportMs: number; loadMs: number; verifyMs: number; totalMs: number };
  windowMs: number;
  fitsWindow: boolean;
}

export async function forecastDowntime(options: {
  source: Database;
  tables: readonly string[];
  scratchDir: string;
  runId: string;
  quietWindowMs: number;
  windowMs: number;
  progress?: (report: Progress) => void;
  signal?: AbortSignal;
}): Promise<DowntimeForecast> {
  await rm(options.scratchDir, { recursive: true, force: true });
  try {
    const summary = await exportTables({
      source: options.source,
      tables: options.tables,
      dir: options.scratchDir,
      runId: options.runId,
      progress: options.progress,
      signal: options.signal,
    });
    const exportMs = Math.max(summary.durationMs, 1);
    const loadMs = Math.round(exportMs * LOAD_PER_EXPORT);
    const verifyMs = Math.round(exportMs * VERIFY_PER_EXPORT);
    const totalMs = options.quietWindowMs + exportMs + loadMs + verifyMs;
    return {
      rows: summary.rows,
      bytes: summary.bytes,
      exportMs,
      rowsPerSecond: Math.round((summary.rows / exportMs) * 1000),
      forecast: { quietWindowMs: options.quietWindowMs, exportMs, loadMs, verifyMs, totalMs },
      windowMs: options.windowMs,
      fitsWindow: totalMs <= options.windowMs,
    };
  } finally {
    await rm(options.scratchDir, { recursive: true, force: true });
  }
}
