import pg from 'pg';
import type { Plan, PlanInput } from '../../src/config/schema.js';
import { localPlan } from './plan.js';

/**
 * The team-mode plan of the tests: the state in PostgreSQL (CUTOVER_STATE_URL, one login per person),
 * Ana and Ben recognised by their PostgreSQL logins, window.go a 2-of-2 quorum.
 */
export const TEAM_ROLE = 'cutover_team';

export function teamPlan(dir: string): Plan {
  return localPlan(dir, teamOverrides);
}

/** What the team plan changes in the local example plan (children rebuild the plan from this). */
export const teamOverrides: Partial<PlanInput> = {
  state: { postgres: { urlEnv: 'CUTOVER_STATE_URL', teamRole: TEAM_ROLE } },
  approvers: {
    default: [
      { name: 'Ana Ruiz', os: 'ana', pg: 'ana' },
      { name: 'Ben Okafor', os: 'ben', pg: 'ben' },
    ],
    steps: {
      'window.go': { approvers: ['Ana Ruiz', 'Ben Okafor'], quorum: 2 },
      'review.decision': { approvers: ['Ana Ruiz'], quorum: 1 },
      'rollback.decide': { approvers: ['Ana Ruiz', 'Ben Okafor'], quorum: 2 },
      'close.signoff': { approvers: ['Ana Ruiz'], quorum: 1 },
    },
  },
};

/** The URL of `database` on the server of `adminUrl`, as `login`. */
export function urlAs(adminUrl: string, login: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = login;
  url.password = password;
  return url.toString();
}

/** The team's group role and one LOGIN role per person (name → password) on the server of `adminUrl`. */
export async function createTeamLogins(adminUrl: string, logins: Record<string, string>): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  admin.on('error', () => {});
  await admin.connect();
  try {
    // Once per server, whichever test of the file comes first.
    await admin.query(`DO $$ BEGIN CREATE ROLE ${TEAM_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    for (const [login, password] of Object.entries(logins)) await admin.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE ${TEAM_ROLE}`);
  } finally {
    await admin.end();
  }
}
