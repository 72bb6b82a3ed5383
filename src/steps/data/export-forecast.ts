import { rm } from 'node:fs/promises';
import type { Database } from '../../adapters/postgres.js';
import type { Progress } from '../types.js';
import { exportTables } from './export.js';

/**
 * final.export-dry-run: a real, timed export into a scratch folder (deleted afterwards: it holds
 * personal data), turned into a forecast of the data path's share of the maintenance window.
 *
 * Only the export can be measured without touching the target, so load and verify are estimated
 * from it with ratios measured by bench/data-path.ts on FreshTrack readings (1M and 5M rows):
 * loading (COPY, index rebuilds, ANALYZE) took 1.3-1.4× the export (which includes the source's
 * digest), verifying the target 0.4-0.5×; rounded up here, since a forecast that is short hurts more.
 */
export const LOAD_PER_EXPORT = 1.5;
export const VERIFY_PER_EXPORT = 0.5;

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
