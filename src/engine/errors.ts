/**
 * A user mistake or a refusal: a message that says what is wrong and what to do, an exit code, no
 * stack trace. Anything else that escapes is a bug and is reported as one.
 */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

export const EXIT = { ok: 0, attention: 1, usage: 2, gate: 3, locked: 4 } as const;
