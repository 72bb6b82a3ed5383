import { useEffect, useState } from 'react';
import { Box, Text } from 'ink';
import { firstEnabled, PickPerson } from './choice-list.js';
import { rule, truncate } from './format.js';
import type { SendResult } from './signoff-panel.js';
import { TextInput } from './text-input.js';
import { useTheme } from './theme.js';

/**
 * Who and why, for events that need both on the record: skip (`cutover skip STEP --by --reason`) and
 * rollback / abort (`cutover rollback --by --reason`). Esc backs out; nothing is sent until Enter.
 */
export function ReasonForm(props: {
  title: string;
  /** One line on what sending this will do. */
  effect: string;
  people: readonly string[];
  width: number;
  height: number;
  onSubmit(input: { by: string; reason: string }): SendResult;
  onCancel(): void;
  onTyping(typing: boolean): void;
}) {
  const { title, effect, people, width, height, onSubmit, onCancel, onTyping } = props;
  const theme = useTheme();
  const choices = people.map((name) => ({ label: name }));
  const [stage, setStage] = useState<'who' | 'reason'>('who');
  const [index, setIndex] = useState(() => firstEnabled(choices));
  const [message, setMessage] = useState<string>();
  const by = people[index] ?? '';

  useEffect(() => {
    onTyping(stage === 'reason');
    return () => onTyping(false);
  }, [stage, onTyping]);

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" color={theme.warn} bold>
        {rule(title, width, 'Esc cancels')}
      </Text>
      <Text wrap="truncate-end">{truncate(effect, width)}</Text>
      {stage === 'who' ? (
        <PickPerson
          prompt="Who? ↑/↓ choose · Enter next · Esc cancel"
          choices={choices}
          initial={index}
          onPick={(picked) => {
            setIndex(picked);
            setStage('reason');
          }}
          onCancel={onCancel}
        />
      ) : (
        <>
          <Text wrap="truncate-end" dimColor>
            {truncate(`As ${by} · Enter send · Esc back`, width)}
          </Text>
          <TextInput
            label="Reason:"
            onSubmit={(value) => {
              if (!value.trim()) {
                setMessage('A reason is required: it goes on the record.');
                return;
              }
              const result = onSubmit({ by, reason: value.trim() });
              if (!result.ok) setMessage(result.message);
            }}
            onCancel={() => setStage('who')}
            isActive
            width={width}
          />
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
