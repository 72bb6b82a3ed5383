import { writeFileSync } from 'node:fs';
import type { Plan } from '../config/schema.js';
import { peekRun } from './peek.js';
import { renderHtmlReport } from './report-html.js';
import { buildView } from './view.js';

/** Render the HTML report of the run in `stateDir` and write it owner-only (it names people). */
export function writeHtmlReport(file: string, plan: Plan, stateDir: string, now: number): void {
  const { snapshot, journal } = peekRun(stateDir, plan);
  const steps = (snapshot.context as { steps: Record<string, { output?: unknown }> }).steps;
  const outputs = Object.fromEntries(Object.entries(steps).map(([id, record]) => [id, record.output]));
  writeFileSync(file, renderHtmlReport({ plan, view: buildView(snapshot, now, plan.t0.zone), journal: journal.entries, outputs }), { mode: 0o600 });
}
