import { spawnSync } from 'node:child_process';

/** tmux on its own server (`-L socket`), with the environment the terminals' programs get. */
export function tmuxOn(socket: string, env: Record<string, string>): (...args: string[]) => string {
  return (...args) => {
    const result = spawnSync('tmux', ['-u', '-L', socket, ...args], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
}

/** One tmux session seen as a real terminal: what it shows, and keys typed into it. */
export class Terminal {
  constructor(
    private readonly tmux: (...args: string[]) => string,
    readonly name: string,
  ) {}
  screen(options: { escapes?: boolean } = {}): string {
    return this.tmux('capture-pane', '-p', ...(options.escapes ? ['-e'] : []), '-t', this.name);
  }
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.name, ...keys);
  }
  text(text: string): void {
    this.tmux('send-keys', '-t', this.name, '-l', text);
  }
  /** Poll the screen until it shows `expected` (a generous deadline; never a fixed wait). */
  async waitFor(expected: string | RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (typeof expected === 'string' ? screen.includes(expected) : expected.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`The terminal ${this.name} never showed ${String(expected)}. It shows:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
