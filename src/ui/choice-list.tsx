import { Box, Text, useInput } from 'ink';
import { useKeyState } from './hooks.js';
import { useTheme } from './theme.js';

export interface Choice {
  label: string;
  /** Shown after the label; a disabled choice says why (e.g. "signed"). */
  note?: string;
  disabled?: boolean;
}

/** Next enabled index from `from` in `direction`, or `from` if there is none. */
export function stepChoice(choices: readonly Choice[], from: number, direction: 1 | -1): number {
  for (let index = from + direction; index >= 0 && index < choices.length; index += direction) {
    if (!choices[index]!.disabled) return index;
  }
  return from;
}

export function firstEnabled(choices: readonly Choice[]): number {
  return Math.max(0, choices.findIndex((choice) => !choice.disabled));
}

/** A vertical list with a ▸ cursor: ↑/↓ move over enabled choices, Enter picks, Esc cancels. */
export function ChoiceList(props: { choices: readonly Choice[]; initial?: number; onPick(index: number): void; onCancel?(): void; isActive: boolean }) {
  const { choices, onPick, onCancel, isActive } = props;
  const theme = useTheme();
  const [index, setIndex, latest] = useKeyState(props.initial ?? firstEnabled(choices));
  useInput(
    (_input, key) => {
      if (key.upArrow) setIndex((current) => stepChoice(choices, current, -1));
      else if (key.downArrow) setIndex((current) => stepChoice(choices, current, 1));
      else if (key.return && !choices[latest()]?.disabled) onPick(latest());
      else if (key.escape) onCancel?.();
    },
    { isActive },
  );
  return (
    <Box flexDirection="column">
      {choices.map((choice, position) => (
        <Text key={choice.label} wrap="truncate-end" {...(choice.disabled ? { dimColor: true } : position === index ? { color: theme.accent, bold: true } : {})}>
          {position === index && isActive ? ' ▸ ' : '   '}
          {choice.label}
          {choice.note ? `  ${choice.note}` : ''}
        </Text>
      ))}
    </Box>
  );
}

/** "Who?": the plan's people as a list with its key hint, the first stage of every form that records a name. */
export function PickPerson(props: { prompt: string; choices: readonly Choice[]; initial?: number; onPick(index: number): void; onCancel?(): void }) {
  return (
    <>
      <Text wrap="truncate-end" dimColor>
        {props.prompt}
      </Text>
      <ChoiceList choices={props.choices} {...(props.initial !== undefined ? { initial: props.initial } : {})} onPick={props.onPick} {...(props.onCancel ? { onCancel: props.onCancel } : {})} isActive />
    </>
  );
}
