// Flow limits across processes: an endpoint's global and per-key concurrency, its rate limits, and fair turns
// between keys. Repositories enforce them when they dispatch (see `DispatchQuery.limits`); `planDispatch` is the
// one decision they all make, so memory, SQLite and PostgreSQL hand out exactly the same jobs.

/** At most `limit` jobs handed out per `intervalMs` (a sliding window). */
export interface RateLimit {
  limit: number;
  intervalMs: number;
}

/** The caps a dispatch of one endpoint keeps to (null: none). */
export interface DispatchLimits {
  /** Jobs of the endpoint handed out (dispatched) or running at once, across every process. */
  concurrency: number | null;
  /** Jobs of one key handed out or running at once. */
  concurrencyPerKey: number | null;
  /** Jobs of the endpoint handed out per interval. */
  rate: RateLimit | null;
  /** Jobs of one key handed out per interval. */
  ratePerKey: RateLimit | null;
}

/** No caps: jobs stored with a key are handed out by fair turns only. */
export const NO_LIMITS: DispatchLimits = Object.freeze({
  concurrency: null,
  concurrencyPerKey: null,
  rate: null,
  ratePerKey: null,
});

/** A job the dispatch may hand out (queued and due and not held, or one whose message or worker was lost). */
export interface FlowCandidate {
  id: string;
  key: string;
  priority: number;
  runAt: number;
  /**
   * Already counted as handed out or running (a lost message handed out again, or a running job whose lease
   * expired): it takes no concurrency room, only a place in the rate.
   */
  holdsSlot: boolean;
}

/** What the store knows when it plans a dispatch of one endpoint's keyed jobs. */
export interface FlowState {
  candidates: readonly FlowCandidate[];
  /** Per key: jobs handed out and not final yet (queued with a dispatch, or running), held ones included. */
  inflight: ReadonlyMap<string, number>;
  /** Jobs handed out and not claimed yet (for `maxAhead`), held ones included. */
  ahead: number;
  /** Dispatches of the endpoint within the longest rate interval: key and time (ms). */
  recent: ReadonlyArray<{ key: string; at: number }>;
  limits: DispatchLimits;
  /** At most this many jobs (the query's limit). */
  limit: number;
  maxAhead: number | null;
  now: number;
}

export interface FlowPlan {
  /** The jobs to hand out, in order. */
  chosen: FlowCandidate[];
  /** Milliseconds until a rate limit lets a job that waits now go (null: none waits for a rate). */
  rateWaitMs: number | null;
}

/**
 * Which jobs to hand out now, and in which order. Jobs that already hold a slot go first. Then fresh jobs in fair
 * turns: a job's turn is its key's jobs in flight plus its place among its key's waiting jobs (by priority, then
 * runAt, then id), so the key with the fewest jobs in flight goes next, whatever the length of the others'
 * backlog; equal turns go by priority, runAt and id. Each job is taken only while its key and the endpoint
 * have room in every limit.
 */
export function planDispatch(state: FlowState): FlowPlan {
  const { limits, now } = state;
  const inWindow = (rate: RateLimit | null, key?: string) =>
    rate === null
      ? 0
      : state.recent.filter(
          (entry) => entry.at > now - rate.intervalMs && (key === undefined || entry.key === key),
        ).length;
  let concurrencyRoom =
    limits.concurrency === null ? Infinity : limits.concurrency - sum(state.inflight.values());
  let rateRoom = limits.rate === null ? Infinity : limits.rate.limit - inWindow(limits.rate);
  let aheadRoom = state.maxAhead === null ? Infinity : state.maxAhead - state.ahead;
  const keyRoom = new Map<string, { concurrency: number; rate: number }>();
  const roomOf = (key: string) => {
    let room = keyRoom.get(key);
    if (!room) {
      room = {
        concurrency:
          limits.concurrencyPerKey === null
            ? Infinity
            : limits.concurrencyPerKey - (state.inflight.get(key) ?? 0),
        rate:
          limits.ratePerKey === null ? Infinity : limits.ratePerKey.limit - inWindow(limits.ratePerKey, key),
      };
      keyRoom.set(key, room);
    }
    return room;
  };

  const byTurn = compareByTurn(state);
  const ordered = [...state.candidates.filter((c) => c.holdsSlot).sort(byTurn.plain)];
  ordered.push(...byTurn.fresh(state.candidates.filter((c) => !c.holdsSlot)));
  const chosen: FlowCandidate[] = [];
  let rateBlocked = false;
  let keyRateBlocked = false;
  for (const candidate of ordered) {
    if (chosen.length >= state.limit) break;
    const room = roomOf(candidate.key);
    if (rateRoom <= 0) {
      rateBlocked = true;
      break;
    }
    if (room.rate <= 0) {
      keyRateBlocked = true;
      continue;
    }
    if (!candidate.holdsSlot && (concurrencyRoom <= 0 || room.concurrency <= 0 || aheadRoom <= 0)) continue;
    chosen.push(candidate);
    rateRoom--;
    room.rate--;
    if (!candidate.holdsSlot) {
      concurrencyRoom--;
      aheadRoom--;
      room.concurrency--;
    }
  }
  const taken = chosen.map((candidate) => ({ key: candidate.key, at: now }));
  const waits: number[] = [];
  if (rateBlocked && limits.rate) waits.push(freedIn(state, taken, limits.rate, undefined));
  if (keyRateBlocked && limits.ratePerKey) {
    for (const [key, room] of keyRoom) {
      if (room.rate <= 0) waits.push(freedIn(state, taken, limits.ratePerKey, key));
    }
  }
  return { chosen, rateWaitMs: waits.length === 0 ? null : Math.max(1, Math.min(...waits)) };
}

/** The longest interval of the limits: older dispatches no longer count (a store may forget them). */
export function rateWindowMs(limits: DispatchLimits): number {
  return Math.max(limits.rate?.intervalMs ?? 0, limits.ratePerKey?.intervalMs ?? 0);
}

/** Milliseconds until the window of `rate` (of one key, or the whole endpoint) holds fewer than its limit. */
function freedIn(
  state: FlowState,
  taken: ReadonlyArray<{ key: string; at: number }>,
  rate: RateLimit,
  key: string | undefined,
): number {
  const times = [...state.recent, ...taken]
    .filter((entry) => entry.at > state.now - rate.intervalMs && (key === undefined || entry.key === key))
    .map((entry) => entry.at)
    .sort((a, b) => a - b);
  const index = times.length - rate.limit;
  if (index < 0) return 0;
  return times[index]! + rate.intervalMs - state.now;
}

function compareByTurn(state: FlowState) {
  const plain = (a: FlowCandidate, b: FlowCandidate) =>
    b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    plain,
    /** Fresh jobs in fair turns across keys. */
    fresh(candidates: readonly FlowCandidate[]): FlowCandidate[] {
      const byKey = new Map<string, FlowCandidate[]>();
      for (const candidate of candidates) {
        const list = byKey.get(candidate.key);
        if (list) list.push(candidate);
        else byKey.set(candidate.key, [candidate]);
      }
      const turns: Array<{ candidate: FlowCandidate; turn: number }> = [];
      for (const [key, list] of byKey) {
        const inflight = state.inflight.get(key) ?? 0;
        list.sort(plain);
        list.forEach((candidate, index) => {
          turns.push({ candidate, turn: inflight + index });
        });
      }
      turns.sort((a, b) => a.turn - b.turn || plain(a.candidate, b.candidate));
      return turns.map((entry) => entry.candidate);
    },
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
