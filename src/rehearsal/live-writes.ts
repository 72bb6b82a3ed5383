import pg from 'pg';

/**
 * Sensors that keep reporting through a `replicate` cutover, as the application would: each write
 * goes to whichever system the DNS points at (`route()`), as an app role (`SET ROLE`), so the freeze
 * refuses it like any application write. It records every write acknowledged, the first refused
 * write on the old system and the first write the new system accepted after it: the write freeze as
 * the application lived it.
 */

export type Route = 'old' | 'new';

export interface LiveWrites {
  /** Ids of readings acknowledged by the old (source) and the new (target) system. */
  acknowledged: { old: string[]; new: string[] };
  refused: number;
  /** ms since the epoch (wall clock) of the first refused write on the old system. */
  firstRefusedAt?: number;
  /** ms since the epoch of the first write the new system accepted after a refusal. */
  firstAcceptedNewAt?: number;
  /** ms since the epoch of the last write the old system accepted. */
  lastAcceptedOldAt?: number;
  /** The longest a single write attempt took (a writer blocked on a lock shows here), and when it started. */
  longestAttempt: { ms: number; at: number };
  /** The write freeze in ms, once both ends are known. */
  freezeMs(): number | undefined;
  stop(): Promise<void>;
}

export interface LiveWritesOptions {
  urls: Record<Route, string>;
  route: () => Route;
  /** The role the application writes as. */
  role: string;
  intervalMs?: number;
  /** Stop writing to the new system after this many writes there (enough to measure and check). */
  newWrites?: number;
}

const REFUSED = new Set(['42501', '25006', '55000', '57P01']);

export function startLiveWrites(options: LiveWritesOptions): LiveWrites {
  const clients: Partial<Record<Route, pg.Client>> = {};
  const state: LiveWrites = {
    acknowledged: { old: [], new: [] },
    refused: 0,
    longestAttempt: { ms: 0, at: 0 },
    freezeMs: () => (state.firstRefusedAt !== undefined && state.firstAcceptedNewAt !== undefined ? state.firstAcceptedNewAt - state.firstRefusedAt : undefined),
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(Object.values(clients).map((c) => c?.end().catch(() => {})));
    },
  };
  let stopped = false;
  let sensors: string[] = [];
  const connect = async (route: Route): Promise<pg.Client> => {
    const existing = clients[route];
    if (existing) return existing;
    const client = new pg.Client({ connectionString: options.urls[route], application_name: 'rehearsal-sensors' });
    client.on('error', () => {});
    await client.connect();
    await client.query(`SET ROLE ${options.role}`);
    if (sensors.length === 0) sensors = (await client.query<{ id: string }>('SELECT id FROM public.sensors ORDER BY id LIMIT 50')).rows.map((r) => r.id);
    clients[route] = client;
    return client;
  };
  const drop = (route: Route) => {
    clients[route]?.end().catch(() => {});
    delete clients[route];
  };
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      const route = options.route();
      if (route === 'new' && state.acknowledged.new.length >= (options.newWrites ?? 20)) break;
      const attemptAt = Date.now();
      try {
        const client = await connect(route);
        const sensor = sensors[n++ % sensors.length]!;
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO public.temperature_readings (sensor_id, recorded_at, temperature, humidity, battery_level, signal_strength)
           VALUES ($1, now(), 4.2, 60, 90, -70) RETURNING id::text`,
          [sensor],
        );
        state.acknowledged[route].push(rows[0]!.id);
        if (route === 'old') state.lastAcceptedOldAt = Date.now();
        if (route === 'new' && state.firstRefusedAt !== undefined && state.firstAcceptedNewAt === undefined) state.firstAcceptedNewAt = Date.now();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (route === 'old' && ((code !== undefined && REFUSED.has(code)) || /permission denied|maintenance|read-only/i.test((error as Error).message))) {
          state.refused++;
          state.firstRefusedAt ??= Date.now();
        }
        // A terminated session (the freeze ends the app's sessions) or a failed connect: start again.
        if (code === undefined || code === '57P01') drop(route);
      }
      const took = Date.now() - attemptAt;
      if (took > state.longestAttempt.ms) state.longestAttempt = { ms: took, at: attemptAt };
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
    }
  })();
  return state;
}
