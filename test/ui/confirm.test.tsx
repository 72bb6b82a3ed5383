import { afterEach, describe, expect, it } from 'vitest';
import { driveToEnd } from '../support/drive.js';
import { cleanupDirs, uiRun } from './fixture.js';
import { ENTER, ESC, lineWith, PAGE_UP, section } from './terminal.js';

afterEach(cleanupDirs);

const confirmations = (entries: readonly { type: string; event?: unknown }[]) =>
  entries.filter((entry) => entry.type === 'event' && (entry.event as { type: string }).type === 'CONFIRM');

async function atDnsSwitch() {
  const run = uiRun({
    actions: {
      'dns.switch': {
        dryRun: () => 'A freshtrackpro.com 203.0.113.10 → 198.51.100.20 (TTL 300)',
        run: async () => ({ summary: 'switched 3 records' }),
      },
    },
  });
  const { runner, feed } = run.open();
  // Play every person up to the switch, as the CLI would have: the UI opens on a waiting dns.switch.
  const blocked = await driveToEnd(runner, run.clock, { stopOn: (b) => b.kind === 'confirm' });
  expect(blocked.location.stepId).toBe('dns.switch');
  return { run, runner, screen: run.show(runner, feed) };
}

describe('typed confirmation', () => {
  it('shows the DNS diff and refuses a wrong phrase with the machine\'s message, sending nothing', async () => {
    const { runner, screen } = await atDnsSwitch();
    let frame = await screen.waitFor('Confirm · dns.switch');
    expect(frame).toContain('Type the DNS zone name exactly: freshtrackpro.com');
    await screen.waitFor('Will do: A freshtrackpro.com 203.0.113.10 → 198.51.100.20 (TTL 300)');
    screen.press(ENTER);
    await screen.waitFor('Confirming as Ana Ruiz');
    screen.type('freshtrackpro.co');
    screen.press(ENTER);

    frame = await screen.waitFor('The phrase does not match. Type exactly: freshtrackpro.com');
    expect(frame).toContain('Phrase: █');
    expect(confirmations(runner.journal.entries)).toEqual([]);
    expect(runner.location().sub).toBe('confirming');

    screen.type('freshtrackpro.com');
    screen.press(ENTER);
    await screen.waitFor('Sign-off · validate.multi-device');
    screen.press(PAGE_UP);
    frame = await screen.waitFor((f) => section(f, 'Timeline').includes('dns.switch'), 'dns.switch in the timeline');
    expect(lineWith(section(frame, 'Timeline'), 'dns.switch')).toMatch(/^  ✓ dns\.switch .*confirmed Ana Ruiz/);
    expect(confirmations(runner.journal.entries)).toHaveLength(1);
    // The record says who, and how the system knew: the UI's OS account.
    expect(confirmations(runner.journal.entries)[0]).toMatchObject({ identity: { name: 'Ana Ruiz', account: 'ana', via: 'os-account' } });
    screen.unmount();
    runner.close();
  });

  it('Esc cancels: the typed text is dropped, nothing is sent, the step keeps waiting', async () => {
    const { runner, screen } = await atDnsSwitch();
    await screen.waitFor('Confirm · dns.switch');
    screen.press(ENTER);
    await screen.waitFor('Confirming as Ana Ruiz');
    screen.type('freshtrack');
    await screen.waitFor('Phrase: freshtrack█');
    screen.press(ESC);

    const frame = await screen.waitFor('Cancelled: nothing was sent; dns.switch is still waiting for its confirmation.');
    expect(frame).toContain('Confirming as Ana Ruiz · Enter to type the phrase');
    expect(frame).not.toContain('freshtrack█');
    expect(confirmations(runner.journal.entries)).toEqual([]);
    expect(runner.location()).toMatchObject({ stepId: 'dns.switch', sub: 'confirming' });
    screen.unmount();
    runner.close();
  });
});
