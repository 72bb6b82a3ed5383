import { useCallback, useEffect, useRef, useState } from 'react';
import type { Clock } from '../engine/clock.js';
import type { Runner } from '../engine/runner.js';

/**
 * A counter that moves when `subscribe` fires, at most once per `intervalMs` (first change at once,
 * the last one after the pause, nothing lost). Progress can tick thousands of times a second; a
 * terminal repainted that often flickers, and a person reads a number at most a few times a second.
 * Throttled on real time, not the engine's clock: this is about the screen.
 */
export function useThrottledTick(subscribe: (listener: () => void) => () => void, intervalMs: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      last = Date.now();
      setTick((value) => value + 1);
    };
    const unsubscribe = subscribe(() => {
      if (timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [subscribe, intervalMs]);
  return tick;
}

/** The engine clock's time, re-read every `intervalMs` (for "now" and countdowns). */
export function useNow(clock: Clock, intervalMs = 1000): number {
  const [now, setNow] = useState(() => clock.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(clock.now()), intervalMs);
    return () => clearInterval(timer);
  }, [clock, intervalMs]);
  return now;
}

/** The run's snapshot, replaced after every persisted transition. */
export function useRunSnapshot(runner: Runner): ReturnType<Runner['snapshot']> {
  const [snapshot, setSnapshot] = useState(() => runner.snapshot());
  useEffect(() => {
    const unsubscribe = runner.subscribe(setSnapshot);
    // A transition may have landed between the first render and this effect.
    setSnapshot(runner.snapshot());
    return unsubscribe;
  }, [runner]);
  return snapshot;
}

/**
 * State whose latest value a key handler can read before React has rendered it. Keys can arrive in
 * one burst (a paste, a fast typist, tmux send-keys): each handler call must build on the previous
 * one, not on the value of the last render.
 */
export function useKeyState<T>(initial: T): [T, (next: T | ((current: T) => T)) => T, () => T] {
  const [state, setState] = useState(initial);
  const latest = useRef(initial);
  const set = useCallback((next: T | ((current: T) => T)) => {
    latest.current = typeof next === 'function' ? (next as (current: T) => T)(latest.current) : next;
    setState(latest.current);
    return latest.current;
  }, []);
  const get = useCallback(() => latest.current, []);
  return [state, set, get];
}
