import { useEffect, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { currentRound } from '../../machines/machine.js';
import type { StepView } from '../engine/view.js';
import { sameName } from '../config/people.js';
import type { Identity } from '../engine/identity.js';
import { useKeyState } from './hooks.js';
import { rule, truncate } from './format.js';
import { TextInput } from './text-input.js';
import { useTheme } from './theme.js';

/** What sending an event came to: the machine's refusal, in its own words, when it refused. */
export type SendResult = { ok: true } | { ok: false; message: string };

type Stage = 'start' | 'note' | 'decide';

/**
 * Sign-off as the person running the UI (the OS account says who that is; nobody picks a name): add
 * a note, approve or reject. Other approvers sign from their own terminals (`cutover signoff STEP`)
 * and their sign-offs appear here as the driver applies them. It only reports the choice
 * (`onSignoff`); the caller sends SIGNOFF, and the machine decides what it means.
 */
export function SignoffPanel(props: {
  step: StepView;
  /** Why an action stopped for a person (a breached threshold), when it did. */
  attention?: string;
  /** Said before a rejection is sent when rejecting has a bigger effect (window.go: no-go aborts). */
  rejectWarning?: string;
  width: number;
  height: number;
  /** Who runs this UI. */
  identity: Identity;
  onSignoff(input: { note?: string; reject: boolean }): SendResult;
  onTyping(typing: boolean): void;
}) {
  const { step, attention, rejectWarning, identity, width, height, onSignoff, onTyping } = props;
  const theme = useTheme();
  // After a rejection and a re-open a new round starts: earlier sign-offs stay on the record but
  // no longer count, and whoever rejected may sign again.
  const round = currentRound({ attempts: step.attempts, signoffs: step.signoffs });
  const earlier = step.signoffs.slice(0, step.signoffs.length - round.length);
  const signed = new Set(round.map((signoff) => signoff.by));
  const by = identity.name;
  const approver = identity.known && step.approvers.some((name) => sameName(name, by));
  const signedAlready = [...signed].some((name) => sameName(name, by));
  // Someone who may not sign, or has signed this round, watches: the others sign from their terminals.
  const canSign = approver && !signedAlready;
  const [stage, setStage] = useState<Stage>('start');
  const [note, setNote] = useState('');
  // Bumped to clear the note field (a new field) on Esc.
  const [field, setField] = useState(0);
  const [reject, setReject, rejecting] = useKeyState(false);
  const [message, setMessage] = useState<string>();

  useEffect(() => {
    onTyping(canSign && stage === 'note');
    return () => onTyping(false);
  }, [canSign, stage, onTyping]);

  // Enter opens the form; until then the keys stay the app's (q, scrolling).
  useInput(
    (_input, key) => {
      if (key.return) setStage('note');
    },
    { isActive: canSign && stage === 'start' },
  );

  useInput(
    (input, key) => {
      if (key.leftArrow || key.rightArrow || key.tab) setReject((value) => !value);
      else if (key.escape) setStage('note');
      else if (key.return) {
        const result = onSignoff({ ...(note.trim() ? { note: note.trim() } : {}), reject: rejecting() });
        if (!result.ok) {
          setMessage(result.message);
          setStage('start');
        }
      }
    },
    { isActive: canSign && stage === 'decide' },
  );

  const left = Math.max(0, step.quorum - signed.size);
  const describe = (list: typeof round) => list.map((signoff) => `${signoff.by} ${signoff.reject ? '✗' : '✓'}${signoff.note ? ` "${signoff.note}"` : ''}`).join(', ');
  const sofar =
    (round.length === 0 ? `No sign-offs yet · ${left} needed` : `${describe(round)} · ${left} more needed`) +
    (earlier.length > 0 ? ` · before the re-open: ${describe(earlier)}` : '');

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" color={theme.warn} bold>
        {rule(`Sign-off · ${step.id}`, width, `quorum ${step.quorum} of ${step.approvers.length}`)}
      </Text>
      <Text wrap="truncate-end">{truncate(`${step.title}: ${step.description}`, width)}</Text>
      {attention ? (
        <Text wrap="truncate-end" color={theme.bad}>
          {truncate(`Attention: ${attention}`, width)}
        </Text>
      ) : null}
      <Text wrap="truncate-end">{truncate(sofar, width)}</Text>
      {!canSign ? (
        <Text wrap="truncate-end" color={theme.warn}>
          {truncate(
            signedAlready
              ? `You (${by}) signed. The others sign from their own terminals: cutover signoff ${step.id}`
              : `You are ${by}, not an approver of ${step.id}. Approvers sign from their own terminals: cutover signoff ${step.id}`,
            width,
          )}
        </Text>
      ) : null}
      {canSign && stage === 'start' ? <Text wrap="truncate-end">{truncate(`Signing as ${by} · Enter to sign`, width)}</Text> : null}
      {canSign && stage === 'note' ? (
        <>
          <Text wrap="truncate-end">Signing as {by} · Enter next · Esc back</Text>
          <TextInput
            key={field}
            label="Note (optional):"
            initial={note}
            onSubmit={(value) => {
              setNote(value);
              setStage('decide');
            }}
            onCancel={() => {
              setNote('');
              setField((value) => value + 1);
              setStage('start');
            }}
            isActive
            width={width}
          />
        </>
      ) : null}
      {canSign && stage === 'decide' ? (
        <>
          <Text wrap="truncate-end">{truncate(`Signing as ${by}${note.trim() ? ` · note: "${note.trim()}"` : ' · no note'}`, width)}</Text>
          <Text wrap="truncate-end">
            <Text color={reject ? undefined : theme.ok} bold={!reject} inverse={!reject && !theme.noColor}>
              {reject ? '  Approve  ' : '[ Approve ]'}
            </Text>
            {'  '}
            <Text color={reject ? theme.bad : undefined} bold={reject} inverse={reject && !theme.noColor}>
              {reject ? '[ Reject ]' : '  Reject  '}
            </Text>
            <Text dimColor>{'   ←/→ choose · Enter send · Esc back'}</Text>
          </Text>
          {reject && rejectWarning ? (
            <Text wrap="truncate-end" color={theme.bad}>
              {truncate(rejectWarning, width)}
            </Text>
          ) : null}
        </>
      ) : null}
      {message ? (
        <Text wrap="truncate-end" color={theme.bad}>
          {truncate(message, width)}
        </Text>
      ) : null}
    </Box>
  );
}
