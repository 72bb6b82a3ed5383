import { useEffect, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { currentRound } from '../../machines/machine.js';
import type { StepView } from '../engine/view.js';
import { firstEnabled, type Choice, PickPerson } from './choice-list.js';
import { useKeyState } from './hooks.js';
import { rule, truncate } from './format.js';
import { TextInput } from './text-input.js';
import { useTheme } from './theme.js';

/** What sending an event came to: the machine's refusal, in its own words, when it refused. */
export type SendResult = { ok: true } | { ok: false; message: string };

type Stage = 'approver' | 'note' | 'decide';

/**
 * Sign-off: pick an approver from the plan's list, add a note, approve or reject. It only reports
 * the choice (`onSignoff`); the caller sends SIGNOFF, and the machine decides what it means.
 */
export function SignoffPanel(props: {
  step: StepView;
  /** Why an action stopped for a person (a breached threshold), when it did. */
  attention?: string;
  /** Said before a rejection is sent when rejecting has a bigger effect (window.go: no-go aborts). */
  rejectWarning?: string;
  width: number;
  height: number;
  onSignoff(input: { by: string; note?: string; reject: boolean }): SendResult;
  onTyping(typing: boolean): void;
}) {
  const { step, attention, rejectWarning, width, height, onSignoff, onTyping } = props;
  const theme = useTheme();
  // After a rejection and a re-open a new round starts: earlier sign-offs stay on the record but
  // no longer count, and whoever rejected may sign again.
  const round = currentRound({ attempts: step.attempts, signoffs: step.signoffs });
  const earlier = step.signoffs.slice(0, step.signoffs.length - round.length);
  const signed = new Set(round.map((signoff) => signoff.by));
  const choices: Choice[] = step.approvers.map((name) => ({ label: name, ...(signed.has(name) ? { disabled: true, note: 'signed' } : {}) }));
  const [stage, setStage] = useState<Stage>('approver');
  const [index, setIndex] = useState(() => firstEnabled(choices));
  const [note, setNote] = useState('');
  const [reject, setReject, rejecting] = useKeyState(false);
  const [message, setMessage] = useState<string>();
  const by = step.approvers[index] ?? '';

  useEffect(() => {
    onTyping(stage === 'note');
    return () => onTyping(false);
  }, [stage, onTyping]);

  useInput(
    (input, key) => {
      if (key.leftArrow || key.rightArrow || key.tab) setReject((value) => !value);
      else if (key.escape) setStage('note');
      else if (key.return) {
        const result = onSignoff({ by, ...(note.trim() ? { note: note.trim() } : {}), reject: rejecting() });
        if (!result.ok) {
          setMessage(result.message);
          setStage('approver');
        }
      }
    },
    { isActive: stage === 'decide' },
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
      {stage === 'approver' ? (
        <PickPerson
          prompt="Who signs? ↑/↓ choose · Enter next"
          choices={choices}
          initial={index}
          onPick={(picked) => {
            setIndex(picked);
            setStage('note');
          }}
        />
      ) : null}
      {stage === 'note' ? (
        <>
          <Text wrap="truncate-end">Signing as {by} · Enter next · Esc back</Text>
          <TextInput
            label="Note (optional):"
            initial={note}
            onSubmit={(value) => {
              setNote(value);
              setStage('decide');
            }}
            onCancel={() => setStage('approver')}
            isActive
            width={width}
          />
        </>
      ) : null}
      {stage === 'decide' ? (
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
