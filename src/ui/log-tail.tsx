import { Box, Text } from 'ink';
import { formatJournalLine } from '../services/journal-lines.js';
import { truncate } from './format.js';
import { useThrottledTick } from './hooks.js';
import type { LiveFeed } from './live-feed.js';

/** The last journal lines, formatted as the line output prints them. */
export function LogTail({ feed, zone, width, height }: { feed: LiveFeed; zone: string; width: number; height: number }) {
  useThrottledTick(feed.subscribeJournal, 250);
  const lines: string[] = [];
  const entries = feed.journal();
  for (let index = entries.length - 1; index >= 0 && lines.length < height; index--) {
    const line = formatJournalLine(entries[index]!, zone, true);
    if (line) lines.unshift(line);
  }
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {lines.map((line, index) => (
        <Text key={index} wrap="truncate-end" dimColor>
          {truncate(line, width)}
        </Text>
      ))}
    </Box>
  );
}
