import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import { expectedPhrase, runbookOf, type RunContext, type RunEvent } from '../../machines/machine.js';
import { branchPhase } from '../../machines/runbook.js';
import { exitCodeFor } from '../services/run.js';
import type { Plan } from '../config/schema.js';
import type { Clock } from '../engine/clock.js';
import { EXIT, ExitError } from '../engine/errors.js';
import type { Identity } from '../engine/identity.js';
import type { Runner } from '../engine/runner.js';
import { buildView, type StepView } from '../engine/view.js';
import { ConfirmPrompt } from './confirm-prompt.js';
import { CurrentStep, failurePaneRows, useDryRun } from './current-step.js';
import { decisionFromRun } from './decision-evidence.js';
import { DecisionPanel } from './decision-panel.js';
import { DriveLoop } from './drive-loop.js';
import { systemZone, truncate } from './format.js';
import { Header } from './header.js';
import { ReplicationLine, useReplication } from './replication-line.js';
import type { RunReplication } from '../steps/replicate/lag.js';
import { useNow, useRunSnapshot } from './hooks.js';
import { DECISION, isInterrupt, QUIT, renderHelp, SCROLL, type HelpItem } from './keys.js';
import type { LiveFeed } from './live-feed.js';
import { LogTail } from './log-tail.js';
import { ReasonForm } from './reason-form.js';
import { SignoffPanel, type SendResult } from './signoff-panel.js';
import { ThemeProvider, themeFor } from './theme.js';
import { clampScroll, currentRowIndex, lastTouchedKey, Timeline, timelineRows as buildTimelineRows } from './timeline.js';

export interface AppProps {
  runner: Runner;
  plan: Plan;
  clock: Clock;
  /** Progress and journal lines, fed by the runner's callbacks. */
  feed: LiveFeed;
  /** Who runs the UI, as the OS recognised them: every event is sent as this person. */
  identity: Identity;
  /** A step's dry-run text (the registry's `dryRun`), or undefined when it has no action. */
  dryRun(stepId: string): Promise<string | undefined>;
  /** `--until STEP`: drive no further than this step. */
  until?: string;
  /** The operator's zone for the second T0; the process's zone unless a test says otherwise. */
  localZone?: string;
  noColor?: boolean;
  /** Called once, after the runner was closed, with the exit code for where the run stood. */
  onQuit?(code: number): void;
  /** Strategy replicate: reads the run's replication lag from the source (shown under the header, read every few seconds). */
  replication?(): Promise<RunReplication>;
}

type Overlay = { kind: 'decision' } | { kind: 'skip'; stepId: string } | { kind: 'rollback' | 'abort' };

/** The decision that opens the rollback branch (named in the rollback form's explanation). */
const rollbackDecision = branchPhase('rollback').steps.find((step) => step.kind === 'decision') ?? branchPhase('rollback').steps[0]!;

const HEADER_ROWS = 3;
const HELP_ROWS = 1;
const MIN_TIMELINE_ROWS = 4;

function findStepView(phases: ReturnType<typeof buildView>['phases'], stepId: string | undefined): StepView | undefined {
  if (!stepId) return undefined;
  for (const phase of phases) for (const step of phase.steps) if (step.id === stepId) return step;
  return undefined;
}

/** The cutover lead's screen: a view of the run and a keyboard that sends the machine's events. */
export function App(props: AppProps) {
  const { runner, plan, clock, feed, dryRun, until, identity, noColor = false, onQuit } = props;
  const localZone = props.localZone ?? systemZone();
  const zone = plan.t0.zone;
  const { exit } = useApp();
  const { columns, rows } = useWindowSize();
  const snapshot = useRunSnapshot(runner);
  // Rebuilt only when the run moves: the timeline's props then stay the same between ticks.
  const view = useMemo(() => buildView(snapshot, clock.now(), zone), [snapshot, clock, zone]);
  const context = snapshot.context as RunContext;
  const now = useNow(clock);
  const [, setLoopState] = useState(0);
  const loop = useMemo(() => new DriveLoop(runner, { ...(until ? { until } : {}) }, () => setLoopState((value) => value + 1)), [runner, until]);
  useEffect(() => {
    void loop.run();
    // Any event applied (this UI's own, or another terminal's through the inbox): the run may move on.
    const off = runner.onEvent(() => loop.poke());
    return () => {
      off();
      loop.stop();
    };
  }, [loop, runner]);

  const [overlay, setOverlay] = useState<Overlay>();
  const [typing, setTyping] = useState(false);
  const [scroll, setScroll] = useState(0);
  const [notice, setNotice] = useState<string>();
  const stepId = view.location.stepId;
  const step = findStepView(view.phases, stepId);
  const dryRunText = useDryRun(stepId, dryRun);
  const replication = useReplication(props.replication);
  useEffect(() => setScroll(0), [stepId]);

  const send = useCallback(
    (event: RunEvent, typed: { phrase?: string } = {}): SendResult => {
      try {
        runner.send(event, { identity, ...typed });
      } catch (error) {
        if (error instanceof ExitError) return { ok: false, message: error.message };
        throw error;
      }
      loop.poke();
      setNotice(undefined);
      return { ok: true };
    },
    [runner, loop, identity],
  );

  const quit = useCallback(() => {
    loop.stop();
    runner.close();
    const code = loop.error ? EXIT.attention : loop.blocked ? exitCodeFor(loop.blocked) : EXIT.gate;
    onQuit?.(code);
    exit();
  }, [loop, runner, onQuit, exit]);

  const failed = step && (step.status === 'failed' || step.status === 'unknown' || step.status === 'rejected');
  const waitingSignoff = snapshot.hasTag('waiting:signoff') && step !== undefined;
  const waitingConfirm = snapshot.hasTag('waiting:confirm') && step !== undefined;
  const form = overlay && overlay.kind !== 'decision';
  const branch = view.rollbackPossible ? 'rollback' : view.abortPossible ? 'abort' : undefined;

  // Layout. One row is left free: Ink clears the whole screen when a frame fills the terminal, and
  // that is the flicker this avoids.
  const height = Math.max(12, rows - 1);
  const decisionStep = step?.kind === 'decision' && (waitingSignoff || waitingConfirm);
  const failureRows = overlay ? 0 : failurePaneRows(step, columns);
  const wanted = failureRows ? Math.max(8, failureRows) : form ? 8 : waitingConfirm ? 10 : decisionStep ? 16 : overlay?.kind === 'decision' ? 12 : 8;
  const free = height - HEADER_ROWS - (replication ? 1 : 0) - HELP_ROWS;
  const usualLogRows = rows >= 40 ? 6 : rows >= 30 ? 4 : 3;
  // A failure is shown whole: the log tail gives way to it first (its ✗ line only repeats the error),
  // then the timeline, down to its heading and the failed step's row.
  const logRows = failureRows ? Math.max(0, Math.min(usualLogRows, free - MIN_TIMELINE_ROWS - wanted)) : usualLogRows;
  const body = free - logRows;
  const panelRows = Math.max(4, Math.min(wanted, body - (failureRows ? 2 : MIN_TIMELINE_ROWS)));
  const timelineRows = Math.max(2, body - panelRows);
  const rowsOfTimeline = useMemo(() => buildTimelineRows(view.phases, view.location.phaseId, zone), [view, zone]);
  const currentKey = stepId ?? view.location.phaseId ?? lastTouchedKey(rowsOfTimeline);
  const scrollBy = (delta: number) =>
    setScroll((value) => clampScroll(value + delta, rowsOfTimeline.length, currentRowIndex(rowsOfTimeline, currentKey), timelineRows - 1));
  const page = Math.max(1, timelineRows - 2);

  useInput((input, key) => {
    if (isInterrupt(input, key)) return quit();
    if (typing) return;
    if (input === 'q') return quit();
    if (key.pageUp) return scrollBy(-page);
    if (key.pageDown) return scrollBy(page);
    if (key.home) return setScroll(0);
    if (form) return;
    if (input === 'b') return setOverlay((current) => (current?.kind === 'decision' ? undefined : { kind: 'decision' }));
    if (key.escape && overlay?.kind === 'decision') return setOverlay(undefined);
    if (input === 'r' && failed && stepId) {
      const result = send({ type: 'RETRY', stepId, at: clock.now() });
      if (!result.ok) setNotice(result.message);
      return;
    }
    if (input === 's' && failed && stepId) return setOverlay({ kind: 'skip', stepId });
    if (input === 'R' && branch) return setOverlay({ kind: branch });
    const arrowsFree = !waitingSignoff && !waitingConfirm;
    if (arrowsFree && key.upArrow) return scrollBy(-1);
    if (arrowsFree && key.downArrow) return scrollBy(1);
  });

  const onTyping = useCallback((value: boolean) => setTyping(value), []);
  let panel: ReactNode;
  if (overlay?.kind === 'skip') {
    panel = (
      <ReasonForm
        title={`Skip · ${overlay.stepId}`}
        effect={`Marks ${overlay.stepId} skipped on the record and goes on (cutover skip ${overlay.stepId} --reason TEXT).`}
        identity={identity}
        width={columns}
        height={panelRows}
        onSubmit={({ reason }) => {
          const result = send({ type: 'SKIP', stepId: overlay.stepId, by: identity.name, reason, at: clock.now() });
          if (result.ok) setOverlay(undefined);
          return result;
        }}
        onCancel={() => setOverlay(undefined)}
        onTyping={onTyping}
      />
    );
  } else if (overlay?.kind === 'rollback' || overlay?.kind === 'abort') {
    const rollback = overlay.kind === 'rollback';
    panel = (
      <ReasonForm
        title={rollback ? 'Start the rollback' : 'Abort the cutover'}
        effect={
          rollback
            ? `Enters the rollback branch: ${rollbackDecision.id} then shows the evidence and asks for the typed phrase and sign-offs.`
            : 'Enters the abort branch (before the freeze nothing was migrated): restore the TTL, tell users.'
        }
        identity={identity}
        phrase={context.phrases.rollback}
        width={columns}
        height={panelRows}
        onSubmit={({ reason, phrase }) => {
          const result = send({ type: rollback ? 'ROLLBACK' : 'ABORT', by: identity.name, reason, at: clock.now() }, phrase !== undefined ? { phrase } : {});
          if (result.ok) setOverlay(undefined);
          return result;
        }}
        onCancel={() => setOverlay(undefined)}
        onTyping={onTyping}
      />
    );
  } else if (overlay?.kind === 'decision') {
    panel = <DecisionPanel reading={decisionFromRun(context, plan, stepId, runner.journal.entries)} width={columns} height={panelRows} closable />;
  } else if (waitingConfirm && step) {
    const def = runbookOf(snapshot).findStep(step.id)!.step;
    const decisionSummary = context.steps[step.id]?.summary;
    panel = (
      <ConfirmPrompt
        key={step.id}
        step={step}
        phrase={expectedPhrase(context, def)}
        what={def.phrase === 'zone' ? 'the DNS zone name' : 'the rollback phrase'}
        {...((step.kind === 'decision' ? decisionSummary : dryRunText) ? { preview: (step.kind === 'decision' ? decisionSummary : dryRunText)! } : {})}
        width={columns}
        height={panelRows}
        identity={identity}
        onConfirm={({ phrase }) => send({ type: 'CONFIRM', stepId: step.id, by: identity.name, phrase, at: clock.now() })}
        onTyping={onTyping}
      />
    );
  } else if (waitingSignoff && step) {
    const signoffRows = decisionStep ? Math.min(7, panelRows - 2) : panelRows;
    panel = (
      <Box flexDirection="column">
        {decisionStep ? <DecisionPanel reading={decisionFromRun(context, plan, step.id, runner.journal.entries)} width={columns} height={panelRows - signoffRows} closable={false} /> : null}
        <SignoffPanel
          // A new panel per round (after a rejection and a re-open); another approver's sign-off arriving
          // from their terminal must not wipe the note this person is typing.
          key={`${step.id}:${step.signoffs.filter((signoff) => signoff.reject).length}`}
          step={step}
          {...(context.steps[step.id]?.attention ? { attention: context.steps[step.id]!.attention!.reason } : {})}
          {...(runbookOf(snapshot).findStep(step.id)?.step.rejectionAborts ? { rejectWarning: `Rejecting ${step.id} is a NO-GO: the cutover is aborted (TTL restored, users told).` } : {})}
          width={columns}
          height={signoffRows}
          identity={identity}
          onSignoff={({ note, reject }) => send({ type: 'SIGNOFF', stepId: step.id, by: identity.name, at: clock.now(), ...(note ? { note } : {}), ...(reject ? { reject: true } : {}) })}
          onTyping={onTyping}
        />
      </Box>
    );
  } else {
    panel = (
      <CurrentStep
        view={view}
        step={step}
        now={now}
        zone={zone}
        feed={feed}
        dryRunText={dryRunText}
        {...(loop.blocked?.kind === 'until' && until ? { stoppedBefore: until } : {})}
        {...(loop.error ? { engineError: loop.error instanceof Error ? loop.error.message : String(loop.error) } : {})}
        width={columns}
        height={panelRows}
      />
    );
  }

  const help: HelpItem[] = typing
    ? [['Ctrl-C', 'quit (saved)']]
    : [
        ...(failed ? ([['r', step?.status === 'rejected' ? 're-open' : 'retry'], ['s', 'skip']] as HelpItem[]) : []),
        ...(branch && !form ? ([['R', branch]] as HelpItem[]) : []),
        DECISION,
        SCROLL,
        QUIT,
      ];

  return (
    <ThemeProvider theme={themeFor(noColor)}>
      <Box flexDirection="column" width={columns} height={height} overflow="hidden">
        <Header planName={plan.name} environment={plan.environment} view={view} zone={zone} localZone={localZone} now={now} width={columns} />
        {replication ? <ReplicationLine reading={replication} width={columns} /> : null}
        <Timeline rows={rowsOfTimeline} {...(currentKey ? { currentKey } : {})} width={columns} height={timelineRows} scroll={scroll} />
        <Box height={panelRows} flexDirection="column" overflow="hidden">
          {panel}
        </Box>
        {logRows > 0 ? <LogTail feed={feed} zone={zone} width={columns} height={logRows} /> : null}
        <Text wrap="truncate-end" dimColor={!notice} color={notice ? themeFor(noColor).bad : undefined}>
          {truncate(notice ?? renderHelp(help), columns)}
        </Text>
      </Box>
    </ThemeProvider>
  );
}
