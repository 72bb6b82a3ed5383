import { Text, useInput } from 'ink';
import { useKeyState } from './hooks.js';
import { isInterrupt, isPrintable } from './keys.js';
import { truncate } from './format.js';

/**
 * A one-line text field (ink-text-input is not a dependency; this is all the UI needs): typing and
 * pastes append, Backspace/Delete remove the last character, Enter submits, Esc cancels. The cursor
 * is a block at the end, so it shows without colour. It keeps its own text; remount it (a new `key`)
 * to clear it.
 */
export function TextInput(props: {
  label: string;
  initial?: string;
  onSubmit(value: string): void;
  onCancel(): void;
  isActive: boolean;
  width: number;
}) {
  const { label, initial = '', onSubmit, onCancel, isActive, width } = props;
  const [value, setValue, latest] = useKeyState(initial);
  useInput(
    (input, key) => {
      if (isInterrupt(input, key)) return;
      if (key.return) onSubmit(latest());
      else if (key.escape) onCancel();
      else if (key.backspace || key.delete) setValue((current) => [...current].slice(0, -1).join(''));
      else if (isPrintable(input, key)) setValue((current) => current + input.replace(/[\u0000-\u001f\u007f]/g, ''));
    },
    { isActive },
  );
  // Keep the end of a long value in view: that is where the typing happens.
  const room = Math.max(4, width - [...label].length - 2);
  const chars = [...value];
  const tail = chars.length > room ? `…${chars.slice(chars.length - room + 1).join('')}` : value;
  return (
    <Text wrap="truncate-end">
      {truncate(label, width)} {tail}
      {isActive ? '█' : ''}
    </Text>
  );
}
