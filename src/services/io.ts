/** Where a command writes. Commands never touch process.stdout directly, so they can be tested. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal a person is looking at. */
  interactive: boolean;
  env: Record<string, string | undefined>;
  /**
   * The OS account running the command. Unset for a real process: the operating system says
   * (os.userInfo()). Only a caller of `main()` in-process can set it, i.e. the tests, because one test
   * process cannot be several OS users; neither a flag nor an environment variable reaches it, so
   * nobody at a terminal can claim another account through it.
   */
  account?: string;
}

/** Global flags every command takes. */
export interface GlobalOptions {
  config: string;
  state?: string;
}
