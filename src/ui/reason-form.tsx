import { useEffect, useState } from 'react';
import { Box, Text } from 'ink';
import type { Identity } from '../engine/identity.js';
import { rule, truncate } from './format.js';
import type { SendResult } from './signoff-panel.js';
import { TextInput } from './text-input.js';
import { useTheme } from './theme.js';

/**
 * Why, for events that need a reason on the record: skip (`cutover skip STEP --reason`) and rollback /
 * abort (`cutover rollback --reason --phrase`), which also ask for the typed rollback phrase. Who is
 * the person running the UI; the engine refuses, naming who may, when that person may not. Esc backs
 * out; nothing is sent until Enter.
 */
export function ReasonForm(props: {
  title: string;
  /** One line on what sending this will do. */
  effect: string;
  identity: Identity;
  /** The phrase to type after the reason (rollback and abort). */
  phrase?: string;
  width: number;
  height: number;
  onSubmit(input: { reason: string; phrase?: string }): SendResult;
  onCancel(): void;
  onTyping(typing: boolean): void;
}) {
  const { title, effect, identity, phrase, width, height, onSubmit, onCancel, onTyping } = props;
  const theme = useTheme();
  const [reason, setReason] = useState<string>();
  // Bumped to clear the phrase field after a refusal.
  const [attempt, setAttempt] = useState(0);
  const [message, setMessage] = useState<string>();

  useEffect(() => {
    onTyping(true);
    return () => onTyping(false);
  }, [onTyping]);

  const submit = (input: { reason: string; phrase?: string }) => {
    const result = onSubmit(input);
    if (!result.ok) {
      setMessage(result.message);
      setAttempt((value) => value + 1);
    }
  };

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" color={theme.warn} bold>
        {rule(title, width, 'Esc cancels')}
      </Text>
      <Text wrap="truncate-end">{truncate(effect, width)}</Text>
      <Text wrap="truncate-end" dimColor>
        {truncate(`As ${identity.name} · Enter ${phrase && reason === undefined ? 'next' : 'send'} · Esc ${reason === undefined ? 'cancel' : 'back'}`, width)}
      </Text>
      {reason === undefined ? (
        <TextInput
          label="Reason:"
          onSubmit={(value) => {
            if (!value.trim()) {
              setMessage('A reason is required: it goes on the record.');
              return;
            }
            setMessage(undefined);
            if (phrase) setReason(value.trim());
            else submit({ reason: value.trim() });
          }}
          onCancel={onCancel}
          isActive
          width={width}
        />
      ) : (
        <>
          <Text wrap="truncate-end" bold>
            {truncate(`Type the rollback phrase exactly: ${phrase}`, width)}
          </Text>
          <TextInput key={attempt} label="Phrase:" onSubmit={(value) => submit({ reason, phrase: value })} onCancel={() => setReason(undefined)} isActive width={width} />
        </>
      )}
      {message ? (
        <Text wrap="truncate-end" color={theme.bad}>
          {truncate(message, width)}
        </Text>
      ) : null}
    </Box>
  );
}
