import { useEffect, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import type { StepView } from '../engine/view.js';
import { sameName } from '../config/people.js';
import type { Identity } from '../engine/identity.js';
import { rule, truncate, wrapLines } from './format.js';
import type { SendResult } from './signoff-panel.js';
import { TextInput } from './text-input.js';
import { useTheme } from './theme.js';

/**
 * Typed confirmation before a dangerous step (dns.switch: the zone name; rollback.decide: the
 * rollback phrase). Like a dangerous-confirmation prompt, it shows what will happen, then waits for
 * the exact words. It does not compare the phrase itself: the machine does, and a wrong phrase comes
 * back as the machine's refusal. Esc cancels: nothing is sent and the step keeps waiting.
 */
export function ConfirmPrompt(props: {
  step: StepView;
  /** The exact text to type, shown so the operator knows what is asked. */
  phrase: string;
  /** "the zone name" or "the rollback phrase". */
  what: string;
  /** What the step will do (its dry-run text: for dns.switch, the record diff). */
  preview?: string;
  width: number;
  height: number;
  /** Who runs this UI: the confirmation is theirs (nobody picks a name). */
  identity: Identity;
  onConfirm(input: { phrase: string }): SendResult;
  onTyping(typing: boolean): void;
}) {
  const { step, phrase, what, preview, identity, width, height, onConfirm, onTyping } = props;
  const theme = useTheme();
  const by = identity.name;
  const approver = identity.known && step.approvers.some((name) => sameName(name, by));
  // Bumped to clear the phrase field (a new field) after a refusal or a cancel.
  const [attempt, setAttempt] = useState(0);
  const [message, setMessage] = useState<{ text: string; bad: boolean }>();
  // Enter opens the phrase field; until then the keys stay the app's (q, scrolling).
  const [stage, setStage] = useState<'ready' | 'phrase'>('ready');

  useEffect(() => {
    onTyping(approver && stage === 'phrase');
    return () => onTyping(false);
  }, [approver, stage, onTyping]);

  useInput(
    (_input, key) => {
      if (!key.return) return;
      setMessage(undefined);
      setStage('phrase');
    },
    { isActive: approver && stage === 'ready' },
  );

  const fixed = 5 + (message ? 1 : 0);
  const previewLines = preview ? wrapLines(`Will do: ${preview}`, width, Math.max(0, height - fixed)) : [];

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" color={theme.bad} bold>
        {rule(`Confirm · ${step.id}`, width, 'typed confirmation')}
      </Text>
      <Text wrap="truncate-end">{truncate(`${step.title}: ${step.description}`, width)}</Text>
      {previewLines.map((line, position) => (
        <Text key={position} wrap="truncate-end" dimColor>
          {line}
        </Text>
      ))}
      <Text wrap="truncate-end" bold>
        {truncate(`Type ${what} exactly: ${phrase}`, width)}
      </Text>
      {!approver ? (
        <Text wrap="truncate-end" color={theme.warn}>
          {truncate(`You are ${by}, not an approver of ${step.id}. An approver confirms from their terminal: cutover confirm ${step.id} --phrase …`, width)}
        </Text>
      ) : stage === 'ready' ? (
        <Text wrap="truncate-end">{truncate(`Confirming as ${by} · Enter to type the phrase`, width)}</Text>
      ) : (
        <>
          <Text wrap="truncate-end" dimColor>
            {truncate(`Confirming as ${by} · Enter confirm · Esc cancel`, width)}
          </Text>
          <TextInput
            key={attempt}
            label="Phrase:"
            onSubmit={(value) => {
              const result = onConfirm({ phrase: value });
              if (!result.ok) {
                setMessage({ text: result.message, bad: true });
                setAttempt((value) => value + 1);
              }
            }}
            onCancel={() => {
              setAttempt((value) => value + 1);
              setStage('ready');
              setMessage({ text: `Cancelled: nothing was sent; ${step.id} is still waiting for its confirmation.`, bad: false });
            }}
            isActive
            width={width}
          />
        </>
      )}
      {message ? (
        <Text wrap="truncate-end" color={message.bad ? theme.bad : theme.warn}>
          {truncate(message.text, width)}
        </Text>
      ) : null}
    </Box>
  );
}
