import type { ReactElement } from 'react';
import { Text } from 'ink';
import { render } from 'ink-testing-library';

/** Keys as a terminal sends them. */
export const ENTER = '\r';
export const ESC = '\u001b';
export const TAB = '\t';
export const BACKSPACE = '\u007f';
export const UP = '\u001b[A';
export const DOWN = '\u001b[B';
export const RIGHT = '\u001b[C';
export const LEFT = '\u001b[D';
export const PAGE_UP = '\u001b[5~';
export const PAGE_DOWN = '\u001b[6~';
export const HOME = '\u001b[H';
export const CTRL_C = '\u0003';

export const COLUMNS = 80;
export const ROWS = 24;

/**
 * ink-testing-library 4 fixes its fake terminal at 100 columns and leaves the height to whatever
 * terminal runs the tests (vadimdemedes/ink-testing-library#16). The UI has to be proven at 80×24,
 * so its stdout class is given those dimensions once, before anything renders.
 */
let narrowed = false;
function narrowFakeTerminal(): void {
  if (narrowed) return;
  const probe = render(<Text />);
  const prototype = Object.getPrototypeOf(probe.stdout) as object;
  probe.unmount();
  Object.defineProperty(prototype, 'columns', { get: () => COLUMNS, configurable: true });
  Object.defineProperty(prototype, 'rows', { get: () => ROWS, configurable: true });
  narrowed = true;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

export interface Screen {
  /** The last frame as a person reads it: no escape codes. */
  frame(): string;
  frames(): number;
  press(...keys: string[]): void;
  /** Typed one character at a time, as a person types. */
  type(text: string): void;
  waitFor(expected: string | RegExp | ((frame: string) => boolean), what?: string): Promise<string>;
  /** Wait until the frame no longer shows `text`. */
  waitForGone(text: string): Promise<string>;
  unmount(): void;
}

const TIMEOUT_MS = 10_000;

export function renderScreen(tree: ReactElement): Screen {
  narrowFakeTerminal();
  const instance = render(tree);
  const frame = () => (instance.lastFrame() ?? '').replace(ANSI, '');
  const waitUntil = async (matches: (frame: string) => boolean, what: string): Promise<string> => {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      if (matches(frame())) {
        // Let React run the effects of the render that showed it (input handlers subscribe there),
        // so the next key goes to the component now on screen.
        await new Promise((resolve) => setImmediate(resolve));
        return frame();
      }
      if (Date.now() > deadline) throw new Error(`The screen never showed ${what}. It shows:\n${frame()}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return {
    frame,
    frames: () => instance.frames.length,
    press: (...keys) => {
      for (const key of keys) instance.stdin.write(key);
    },
    type: (text) => {
      for (const char of text) instance.stdin.write(char);
    },
    waitFor: (expected, what) =>
      waitUntil(
        typeof expected === 'string' ? (f) => f.includes(expected) : expected instanceof RegExp ? (f) => expected.test(f) : expected,
        what ?? (typeof expected === 'function' ? 'what the test waits for' : JSON.stringify(String(expected))),
      ),
    waitForGone: (text) => waitUntil((f) => !f.includes(text), `${JSON.stringify(text)} disappear`),
    unmount: () => instance.unmount(),
  };
}

/** The line of the frame that contains `text` (the first one), for assertions on one row. */
export function lineWith(frame: string, text: string): string {
  const line = frame.split('\n').find((candidate) => candidate.includes(text));
  if (line === undefined) throw new Error(`No line contains ${JSON.stringify(text)}:\n${frame}`);
  return line;
}

/** The rows under a `── Title ──` heading, up to the next heading (e.g. the timeline's rows). */
export function section(frame: string, title: string): string {
  const lines = frame.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`── ${title}`));
  if (start < 0) throw new Error(`No ${title} section:\n${frame}`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('── '));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}
