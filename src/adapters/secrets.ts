import { ExitError } from '../engine/errors.js';

/**
 * The one way a secret (a connection string, an API token) is read: from the environment variable the
 * plan names, at the moment it is needed. A missing one is a setup mistake, not weather: exit 2, never
 * retried, and the message says which variable to export and what it must hold, never a value.
 */
export class MissingSecretError extends ExitError {
  override readonly name = 'MissingSecretError';
  constructor(
    readonly envName: string,
    purpose: string,
  ) {
    super(`${envName} is not set: set it to ${purpose}. The plan names the variable, never the value.`, 2);
  }
}

/** The trimmed value of `name`, or a MissingSecretError saying to set it to `purpose`. */
export function readSecret(env: Readonly<Record<string, string | undefined>>, name: string, purpose: string): string {
  const value = env[name]?.trim();
  if (!value) throw new MissingSecretError(name, purpose);
  return value;
}
