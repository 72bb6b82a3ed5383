import type { LiveWrites } from './live-writes.js';
import type { LagSample } from './replicate-world.js';

/** What the rehearsal did to the world, for the report. */
export interface WorldEvents {
  /** Readings the new system wrote after the switch (stand-in traffic and the webhook test). */
  ingested: () => number;
  /** Rows deleted from the target by --inject-drift. */
  drift: { id: string; sensorId: string; recordedAt: string }[];
  /** Source readings at the end, for the rollback's "nothing lost" check. */
  sourceReadingsAtEnd?: number;
  /** Strategy replicate: the sensors' writes through the freeze, and the replication lag over time. */
  replicate?: {
    writes: LiveWrites;
    lag: LagSample[];
    acknowledged: number;
    missing: string[];
  };
}
