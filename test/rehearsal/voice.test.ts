import { describe, expect, it } from 'vitest';
import { voiceDefects } from '../support/voice.js';

/** The scan the rehearsal's output goes through (issue 14, must-show 4) finds each defect the issue quotes. */
describe('voiceDefects', () => {
  it('finds the lines issue 14 quotes', () => {
    const quoted = [
      'Dec 01 06:00:00 -05:00  ✓ final.reminder 67ms: reminder-24h sent to 12 recipients in 1 batches via outbox',
      'deploy.smoke: smoke tests of the new system: 1 checks passed (slowest 33 ms)',
      'data loss: 1 source rows missing from the target',
      'ok outbox: outbox outbox will be created on first send',
      'Nov 30 06:00:00 -05:00    prep.lower-ttl: prep.lower-ttl: lower TTL',
      'Export into exports/(dry run) (mode 0700; files 0600)',
      'Nov 30 06:00:00  ▶ prep.preflight',
      '0 writes between 06:00 and 06:00',
      'run undefined of NaN: [object Object]',
      'Cutover point 2026-11-30T10:05:41.500Z at WAL 0/1F9B600',
    ];
    const found = voiceDefects(quoted.join('\n'));
    expect(found.map((finding) => finding.slice(0, finding.indexOf(' ('))).sort()).toEqual(
      [
        'plural after 1',
        'plural after 1',
        'plural after 1',
        'doubled word',
        'doubled word', // "[object Object]" is also "object Object"
        'doubled step id',
        'placeholder',
        'UTC instant',
        'time without a zone',
        'time without a zone',
        'time without a zone',
        'placeholder',
        'placeholder',
        'placeholder',
      ].sort(),
    );
  });

  it('passes the forms people should read', () => {
    const good = [
      'Dec 02 06:00:09 -05:00  ✓ dns.propagation 2ms: the resolver answers the new values (1 round of queries)',
      'Cutover point Nov 30 05:05:41.500 -05:00 at WAL 0/1F9B600: 20365 rows in 10 tables',
      'at 2026-12-05T22:00:07-05:00; 0 writes between 06:00 and 06:15 -05:00',
      'Stand-ins: old app http://127.0.0.1:37651, 1 batch, 11 batches, 0.1 min, 2,001 rows, 1 of 3 steps, 1 is enough, p95 1 ms vs baseline 1 ms, Dec 06 06:00:08 -05:00',
      'Waiting until Dec 03 22:00:00 -05:00 (in 24h): phase prep opens.',
    ];
    expect(voiceDefects(good.join('\n'))).toEqual([]);
  });
});
