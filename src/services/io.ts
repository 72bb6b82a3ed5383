/** Where a command writes. Commands never touch process.stdout directly, so they can be tested. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal a person is looking at. */
  interactive: boolean;
  env: Record<string, string | undefined>;
}

/** Global flags every command takes. */
export interface GlobalOptions {
  config: string;
  state?: string;
}
