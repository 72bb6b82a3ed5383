import { Box, Text } from 'ink';
import type { DecisionReading } from './decision-evidence.js';
import { rule, truncate } from './format.js';
import { useTheme } from './theme.js';

/** ✗ a yes (a reason to worry), ✓ a no, ? unknown; the evidence says the rest in words. */
const ANSWER_MARK = { yes: '✗', no: '✓', unknown: '?' } as const;

/**
 * The decision tree's walk: the verdict, each question with the evidence that answered it, and the
 * evidence that was missing (never shown as all clear). One line per question so it fits 80×24;
 * a taller terminal shows more of the path.
 */
export function DecisionPanel({ reading, width, height, closable }: { reading: DecisionReading; width: number; height: number; closable: boolean }) {
  const theme = useTheme();
  const { decision } = reading;
  const lines: { text: string; color?: string | undefined; bold?: boolean }[] = [];
  if (!decision) {
    lines.push({ text: `The evidence could not be evaluated: ${reading.error ?? 'unknown error'}`, color: theme.bad });
  } else {
    lines.push({ text: `Verdict: ${decision.verdict.toUpperCase()}`, color: decision.verdict === 'rollback' ? theme.bad : decision.verdict === 'continue' ? theme.ok : theme.warn, bold: true });
    for (const step of decision.path) {
      lines.push({ text: `${ANSWER_MARK[step.answer]} ${step.node}: ${step.evidence}`, color: step.answer === 'yes' ? theme.bad : step.answer === 'unknown' ? theme.warn : undefined });
    }
    if (decision.missing.length > 0) {
      lines.push({ text: `Missing evidence (not treated as all clear): ${decision.missing.join('; ')}`, color: theme.warn });
    }
  }
  const room = Math.max(1, height - 2);
  const shown = lines.length > room ? [...lines.slice(0, room - 1), { text: `… ${lines.length - room + 1} more lines: a taller terminal shows them` }] : lines;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end" dimColor>
        {rule('Decision', width, `✗ yes · ✓ no · ? unknown${closable ? ' · b closes' : ''}`)}
      </Text>
      <Text wrap="truncate-end" dimColor>
        {truncate(`From ${reading.source}.`, width)}
      </Text>
      {shown.map((line, index) => (
        <Text key={index} wrap="truncate-end" color={line.color} bold={line.bold ?? false}>
          {truncate(line.text, width)}
        </Text>
      ))}
    </Box>
  );
}
