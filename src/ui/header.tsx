import { Box, Text } from 'ink';
import type { RunView } from '../engine/view.js';
import { formatAt, formatSpan, truncate, zoneAbbreviation } from './format.js';
import { useTheme } from './theme.js';

/** The next time gate ahead: the one the run sleeps at, else the next phase to open. */
export function nextGate(view: RunView, now: number): { what: string; at: number } | undefined {
  const { location } = view;
  if (location.until !== undefined && location.until > now) {
    const what = location.sub === 'gate' ? `${location.phaseId} opens` : `${location.stepId ?? location.phaseId} due`;
    return { what, at: location.until };
  }
  const upcoming = view.phases
    .filter((phase) => !phase.branch && phase.opensAt !== undefined && phase.opensAt > now)
    .sort((a, b) => a.opensAt! - b.opensAt!)[0];
  return upcoming ? { what: `${upcoming.id} opens`, at: upcoming.opensAt! } : undefined;
}

function Badge({ environment }: { environment: 'staging' | 'production' }) {
  const theme = useTheme();
  const word = environment.toUpperCase();
  // Without colour the badge still has to shout: asterisks and capitals.
  if (theme.noColor) return <Text bold>{`*** ${word} ***`}</Text>;
  return (
    <Text bold color="white" backgroundColor={environment === 'production' ? 'red' : 'yellow'}>
      {` ${word} `}
    </Text>
  );
}

export function Header(props: { planName: string; environment: 'staging' | 'production'; view: RunView; zone: string; localZone: string; now: number; width: number }) {
  const { planName, environment, view, zone, localZone, now, width } = props;
  const theme = useTheme();
  const at = (ms: number, where: string) => `${formatAt(ms, where, 'ccc LLL dd HH:mm')} ${zoneAbbreviation(ms, where)}`;
  const badgeWidth = environment.length + (theme.noColor ? 8 : 2);
  const gate = nextGate(view, now);
  const ended = view.location.ended !== undefined;
  // The point of no return is freeze.enable; the timeline shows where it is. Kept short for 80 columns.
  const ponr = view.pointOfNoReturn.passed
    ? view.rollbackPossible
      ? 'PAST point of no return · rollback possible'
      : 'PAST point of no return · rollback window closed'
    : 'point of no return ahead · abort possible';
  return (
    <Box flexDirection="column" width={width}>
      <Box>
        <Badge environment={environment} />
        <Text bold wrap="truncate-end">
          {' '}
          {truncate(planName, Math.max(8, width - badgeWidth - 1))}
        </Text>
      </Box>
      <Text wrap="truncate-end">
        T0 {at(view.t0, zone)} · local {at(view.t0, localZone)} · now {formatAt(now, zone, 'LLL dd HH:mm ZZZZ')}
      </Text>
      {ended ? (
        <Text wrap="truncate-end" bold>
          {view.headline}
        </Text>
      ) : (
        <Text wrap="truncate-end">
          <Text>{gate ? `next: ${gate.what} in ${formatSpan(gate.at - now)}` : 'no time gate ahead'} │ </Text>
          <Text color={view.pointOfNoReturn.passed ? theme.bad : theme.ok} bold={view.pointOfNoReturn.passed}>
            {ponr}
          </Text>
        </Text>
      )}
    </Box>
  );
}
