import { peopleInstant } from '../engine/time-format.js';
import type { WorldEvents } from './world.js';

/**
 * The rehearsal report's section for strategy replicate: the initial copy, the lag over time, the
 * write freeze the sensors lived (beside the forecast), and every acknowledged write on the target.
 */
export function replicateSection(
  world: WorldEvents,
  output: (id: string) => Record<string, unknown>,
  summary: (id: string) => string | undefined,
  quietWindowMs: number,
  zone: string,
): string[] {
  // The sensors' instants are the machine's clock (not the rehearsal's compressed one), in the plan's zone.
  const at = (time: number) => peopleInstant(time, zone);
  const replicate = world.replicate;
  if (!replicate) return [];
  const lines = ['', '## Replication (strategy replicate)', ''];
  lines.push(`- \`prep.replicate\`: ${summary('prep.replicate') ?? 'not run'}`);
  for (const id of ['export.tables', 'migrate.load']) lines.push(`- \`${id}\` (replicate): ${summary(id) ?? 'not run'}`);

  const forecast = output('final.export-dry-run').forecast as { verifyMs?: number } | undefined;
  const { writes } = replicate;
  const measured = writes.freezeMs();
  lines.push('', '### Write freeze', '');
  if (forecast?.verifyMs !== undefined) {
    // In this strategy the window holds the quiet window, the drain, and verify (both databases hashed live).
    const estimate = quietWindowMs + 2 * forecast.verifyMs + 1000;
    lines.push(
      `- Forecast: at most ${(estimate / 1000).toFixed(1)} s for a real window (quiet window ${(quietWindowMs / 1000).toFixed(0)} s + verify of both sides whole, 2 × ${(forecast.verifyMs / 1000).toFixed(1)} s from \`final.export-dry-run\`, as when \`window.pre-verify\` did not run, + 1 s for drain, sequences and detach); ` +
        `the rehearsal's clock compresses the quiet window to about 1 s of real time, so expect the measurement below to be ${((quietWindowMs - 1100) / 1000).toFixed(0)} s shorter`,
    );
  }
  lines.push(
    measured === undefined
      ? `- Measured: not available (first refused write ${writes.firstRefusedAt ? at(writes.firstRefusedAt) : 'never seen'}, first write accepted by the new system ${writes.firstAcceptedNewAt ? at(writes.firstAcceptedNewAt) : 'never seen'})`
      : `- Measured by the sensors: **${(measured / 1000).toFixed(1)} s** from the first refused write on the source (${at(writes.firstRefusedAt!)}) to the first write the new system accepted (${at(writes.firstAcceptedNewAt!)}); ${writes.refused} writes refused meanwhile (the sensors retry)`,
  );

  const before = output('window.pre-verify').durationMs;
  const inFreeze = output('migrate.verify') as { durationMs?: number; comparedInFreeze?: { ranges: number; of: number; rows: number } };
  if (typeof before === 'number' && inFreeze.durationMs !== undefined) {
    const compared = inFreeze.comparedInFreeze;
    lines.push(
      `- Verify: \`window.pre-verify\` compared every table by key range in ${(before / 1000).toFixed(1)} s before the freeze; \`migrate.verify\` took ${(inFreeze.durationMs / 1000).toFixed(1)} s inside it` +
        (compared ? ` (content of ${compared.ranges} of ${compared.of} key ranges, ${compared.rows.toLocaleString('en-US')} rows; counts and sequences whole)` : ''),
    );
  }
  if (writes.lastAcceptedOldAt) lines.push(`- Last write the source accepted: ${at(writes.lastAcceptedOldAt)}; longest single write attempt ${writes.longestAttempt.ms} ms (from ${at(writes.longestAttempt.at)})`);

  lines.push('', '### Every acknowledged write on the target', '');
  lines.push(
    `- ${writes.acknowledged.old.length.toLocaleString('en-US')} writes acknowledged by the source before the freeze, ${writes.acknowledged.new.length} by the new system after the switch: ` +
      (replicate.missing.length === 0
        ? `**all ${replicate.acknowledged.toLocaleString('en-US')} are on the target**.`
        : `**${replicate.missing.length} missing on the target** (ids ${replicate.missing.slice(0, 20).join(', ')}${replicate.missing.length > 20 ? ', …' : ''}).`),
  );

  lines.push('', '### Lag over time (source slot)', '');
  if (replicate.lag.length === 0) lines.push('No samples (the slot never existed while sampling).');
  else {
    const start = replicate.lag[0]!.at;
    const every = Math.max(1, Math.ceil(replicate.lag.length / 20));
    const picked = replicate.lag.filter((_, i) => i % every === 0 || i === replicate.lag.length - 1);
    const maxLag = Math.max(...replicate.lag.map((s) => s.lagBytes));
    const maxRetained = Math.max(...replicate.lag.map((s) => s.retainedBytes));
    lines.push(`${replicate.lag.length} samples every 0.5 s; largest lag ${kb(maxLag)}, largest WAL retained by the slot ${kb(maxRetained)}.`, '');
    lines.push('| t (s) | Lag (unconfirmed WAL) | WAL retained | Flush lag |', '|---|---|---|---|');
    for (const sample of picked) {
      lines.push(`| ${((sample.at - start) / 1000).toFixed(1)} | ${kb(sample.lagBytes)} | ${kb(sample.retainedBytes)} | ${sample.flushLagMs === null ? '—' : `${sample.flushLagMs} ms`} |`);
    }
  }
  return lines;
}

function kb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
