import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { peopleOf, sameName } from '../config/people.js';
import type { Plan } from '../config/schema.js';
import { EXIT, ExitError } from './errors.js';

/**
 * Who is acting (DESIGN §2: who acts is established, not typed). The operating system says which
 * account runs the command; the plan says which person that account is. `--by` is at most a check of
 * what the system already established, never the source of it.
 */
export interface Identity {
  /** The person's name as the plan spells it, or the bare account when the plan names nobody for it. */
  name: string;
  /** The account it was recognised by. */
  account: string;
  /**
   * How: `os-account` (the process's OS user on the operations host), `postgres-login` (team mode),
   * `rehearsal` (the embedded rehearsal, or a test harness, playing the plan's approvers itself).
   */
  via: 'os-account' | 'postgres-login' | 'rehearsal';
  /** The plan names this account as a person. */
  known: boolean;
}

/** The person behind an account, as the plan declares them. */
export function recognise(plan: Pick<Plan, 'approvers'>, account: string, via: 'os-account' | 'postgres-login' = 'os-account'): Identity {
  const person = peopleOf(plan).find((candidate) => (via === 'os-account' ? candidate.os === account : candidate.pg === account));
  return person ? { name: person.name, account, via, known: true } : { name: account, account, via, known: false };
}

/** The OS account running this process (or, in-process tests only, the account given). */
export function whoIsRunning(plan: Pick<Plan, 'approvers'>, account: string = userInfo().username): Identity {
  return recognise(plan, account);
}

/**
 * The rehearsal's automatic sign-offs: it acts for the stand-in approver its own plan names. Test
 * harnesses that play every person of a plan use it too; the journal says so (`via: rehearsal`).
 */
export function rehearsalIdentity(name: string): Identity {
  return { name, account: name, via: 'rehearsal', known: true };
}

/** "Dana Lee (OS account dana)": how a person appears in messages. */
export function describeIdentity(identity: Identity): string {
  const how = identity.via === 'os-account' ? 'OS account' : identity.via === 'postgres-login' ? 'PostgreSQL login' : 'rehearsal';
  return identity.known && identity.name !== identity.account ? `${identity.name} (${how} ${identity.account})` : `${identity.account} (${how})`;
}

/** What the journal keeps of an identity. */
export function identityRecord(identity: Identity): { name: string; account: string; via: Identity['via'] } {
  return { name: identity.name, account: identity.account, via: identity.via };
}

/**
 * `--by NAME` may be left out; when given it must be the person the system recognised (by name or
 * account). A mismatch is refused rather than corrected: someone typed a name that is not theirs.
 */
export function checkClaim(identity: Identity, by: string | undefined): void {
  if (by === undefined) return;
  if (by.trim() && (sameName(by, identity.name) || by === identity.account)) return;
  throw new ExitError(
    `--by "${by}" is not who runs this command: you are recognised as ${describeIdentity(identity)}. ` +
      'Leave --by out (the operating system says who you are), or run the command as that person\'s own account.',
    EXIT.usage,
  );
}

const accountsByUid = new Map<number, string>();

/**
 * The account name of a numeric user id, through the system's user database (`id -nu` asks NSS, so
 * LDAP and sssd accounts resolve as well as /etc/passwd). Used to trust the owner of an inbox file
 * rather than what the file says about itself.
 */
export function accountOfUid(uid: number): string {
  if (uid === userInfo().uid) return userInfo().username;
  const cached = accountsByUid.get(uid);
  if (cached) return cached;
  let account: string;
  try {
    account = execFileSync('id', ['-nu', String(uid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    account = `uid ${uid}`;
  }
  accountsByUid.set(uid, account);
  return account;
}
