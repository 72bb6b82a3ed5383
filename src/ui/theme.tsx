import { createContext, useContext, type ReactNode } from 'react';
import type { StepStatus } from '../engine/view.js';

/**
 * Colours, or none. NO_COLOR (no-color.org: set and not empty) turns every colour off; the UI must
 * read the same without them, so marks and words carry the meaning and colour only repeats it.
 */
export interface Theme {
  noColor: boolean;
  ok?: string;
  bad?: string;
  warn?: string;
  accent?: string;
  muted?: string;
}

const colours: Theme = { noColor: false, ok: 'green', bad: 'red', warn: 'yellow', accent: 'cyan', muted: 'gray' };
const plain: Theme = { noColor: true };

export function noColorRequested(env: Record<string, string | undefined>): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

export function themeFor(noColor: boolean): Theme {
  return noColor ? plain : colours;
}

const ThemeContext = createContext<Theme>(colours);

export function ThemeProvider({ theme, children }: { theme: Theme; children: ReactNode }) {
  return <ThemeContext.Provider value={theme}>{children}</ThemeContext.Provider>;
}

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

export function statusColor(theme: Theme, status: StepStatus): string | undefined {
  switch (status) {
    case 'done':
      return theme.ok;
    case 'failed':
    case 'rejected':
    case 'unknown':
      return theme.bad;
    case 'waiting':
    case 'attention':
      return theme.warn;
    case 'running':
      return theme.accent;
    default:
      return theme.muted;
  }
}
