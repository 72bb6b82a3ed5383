import { Box, Text } from 'ink';
import { useThrottledTick } from './hooks.js';
import type { LiveFeed } from './live-feed.js';
import { formatCount, formatSpan, progressBar, truncate } from './format.js';
import { useTheme } from './theme.js';

/** Repaints at most this often however fast a step reports (4 per second). */
export const PROGRESS_REPAINT_MS = 250;

/**
 * Live progress of the running step: a bar, the count, the rate and the time left. It subscribes to
 * progress on its own, so a tick repaints these two lines and nothing else.
 */
export function ProgressBar({ feed, stepId, width }: { feed: LiveFeed; stepId: string; width: number }) {
  useThrottledTick(feed.subscribeProgress, PROGRESS_REPAINT_MS);
  const theme = useTheme();
  const reading = feed.progress(stepId);
  if (!reading) return null;
  const { progress, rate, etaMs } = reading;
  const unit = progress.unit ?? '';
  const fraction = progress.total ? progress.done / progress.total : undefined;
  const percent = fraction !== undefined ? `${Math.floor(fraction * 100)}%` : '';
  const barWidth = Math.max(10, Math.min(40, width - [...progress.label].length - 8));
  const counts = [
    `${formatCount(progress.done)}${progress.total !== undefined ? ` of ${formatCount(progress.total)}` : ''}${unit ? ` ${unit}` : ''}`,
    rate !== undefined ? `${formatCount(rate)} ${unit || 'units'}/s` : 'measuring rate…',
    etaMs !== undefined ? `ETA ${formatSpan(etaMs)}` : '',
  ].filter(Boolean);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        {truncate(progress.label, Math.max(8, width - barWidth - 7))}{' '}
        {fraction !== undefined ? <Text color={theme.accent}>{progressBar(fraction, barWidth)}</Text> : null} {percent}
      </Text>
      <Text wrap="truncate-end">{truncate(counts.join(' · '), width)}</Text>
    </Box>
  );
}
