import { describe, expect, it } from 'vitest';
import { allSteps, findStep, stepMarked, type ActionStepId, type StepId } from '../../machines/runbook.js';
import { output } from '../../src/steps/outputs.js';
import { createStepRegistry, type CompleteStepRegistry } from '../../src/steps/registry.js';
import type { StepAction } from '../../src/steps/types.js';

/**
 * The runbook is the one source of truth: what is special about a step is declared on it, every
 * scripted step has an action (checked by the compiler, and here at run time), and step outputs are
 * read through one typed accessor. The `@ts-expect-error` lines are part of the test: the type check
 * (`tsc -p tsconfig.test.json`) fails if one of them starts to compile.
 */
describe('the runbook as data', () => {
  it('declares the freeze, the switch, the no-go and the verdict routing once each', () => {
    expect(stepMarked('marksFreeze').id).toBe('freeze.enable');
    expect(stepMarked('marksSwitch').id).toBe('dns.switch');
    expect(allSteps().filter((step) => step.rejectionAborts).map((step) => step.id)).toEqual(['window.go']);
    expect(allSteps().filter((step) => step.routesOnVerdict).map((step) => step.id)).toEqual(['review.decision']);
    expect(allSteps().filter((step) => step.rejectionResumes).map((step) => step.id)).toEqual(['rollback.decide']);
  });

  it('names as undo only steps of the runbook that come later or in a branch', () => {
    for (const step of allSteps()) {
      for (const undo of step.undoneBy ?? []) {
        const found = findStep(undo);
        expect(found, `${step.id} is undone by ${undo}, which is not a step`).toBeDefined();
        expect(found!.phase.branch || found!.phase.closesRollbackWindow, `${undo} is in a branch or the close`).toBeTruthy();
      }
    }
  });

  it('has an action for every step that is not a plain sign-off', () => {
    const registry = createStepRegistry();
    const scripted = allSteps().filter((step) => step.kind !== 'signoff').map((step) => step.id);
    expect(scripted.filter((id) => !(id in registry))).toEqual([]);
    // A registry that misses a runbook action does not compile.
    const { 'rollback.restore-ttl': _dropped, ...incomplete } = registry;
    // @ts-expect-error rollback.restore-ttl has no action
    const missing: CompleteStepRegistry = incomplete;
    expect(Object.keys(missing)).not.toContain('rollback.restore-ttl');
    // @ts-expect-error a key that is not a runbook step
    const typo: Partial<Record<ActionStepId, StepAction>> = { 'dns.swtich': registry['dns.switch'] };
    expect(typo).toBeDefined();
  });

  it('reads a step output typed by the step that produced it', () => {
    const outputs = { 'freeze.snapshot': { at: '2026-12-06T03:10:00Z', lsn: '0/3000060', counts: { 'public.units': 3 }, clockAt: '2026-12-06T03:10:01Z' } };
    const point = output(outputs, 'freeze.snapshot');
    expect(point?.counts['public.units']).toBe(3);
    expect(output(outputs, 'final.baseline')).toBeUndefined();
    // @ts-expect-error the cutover point has no p95
    expect(point?.p95Ms).toBeUndefined();
    // @ts-expect-error prep.preflight declares no output others read
    output(outputs, 'prep.preflight');
    // @ts-expect-error step ids are checked where they are written
    const notAStep: StepId = 'window.gogo';
    expect(findStep(notAStep)).toBeUndefined();
  });
});
