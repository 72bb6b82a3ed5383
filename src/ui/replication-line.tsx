import { Text } from 'ink';
import { useEffect, useState } from 'react';
import type { RunReplication } from '../steps/replicate/lag.js';
import { useTheme } from './theme.js';

/** How often the UI reads the slot's lag from the source: a glance, not a load on it. */
export const REPLICATION_POLL_MS = 5_000;

/** The replication's latest reading, read again every REPLICATION_POLL_MS (undefined until the first answer). */
export function useReplication(read: (() => Promise<RunReplication>) | undefined): RunReplication | undefined {
  const [reading, setReading] = useState<RunReplication>();
  useEffect(() => {
    if (!read) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const next = await read().catch((error: Error) => ({ slot: '', problems: [], text: `Replication: ${error.message}` }));
      if (stopped) return;
      setReading(next);
      timer = setTimeout(() => void poll(), REPLICATION_POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [read]);
  return reading;
}

/** One line under the header: the slot's lag and retained WAL, in the "bad" colour over a plan threshold. */
export function ReplicationLine({ reading, width }: { reading: RunReplication; width: number }) {
  const theme = useTheme();
  const over = reading.problems.length > 0;
  return (
    <Text wrap="truncate-end" {...(over ? { color: theme.bad, bold: true } : {})}>
      {reading.text.length > width ? `${reading.text.slice(0, Math.max(0, width - 1))}…` : reading.text}
    </Text>
  );
}
