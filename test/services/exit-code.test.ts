import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/engine/errors.js';
import { exitCodeFor } from '../../src/services/run.js';

/** DESIGN §6: where a run stopped decides `cutover run`'s exit code. */
describe('exitCodeFor', () => {
  it('a finished rollback is a finished run (exit 0), like a completed cutover; an abort asks for attention', () => {
    expect(exitCodeFor({ kind: 'ended', location: { ended: 'rolledBack' } })).toBe(EXIT.ok);
    expect(EXIT.ok).toBe(0);
    expect(exitCodeFor({ kind: 'ended', location: { ended: 'completed' } })).toBe(EXIT.ok);
    expect(exitCodeFor({ kind: 'ended', location: { ended: 'aborted' } })).toBe(EXIT.attention);
    expect(EXIT.attention).not.toBe(0);
  });
});
