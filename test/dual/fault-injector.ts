/**
 * A fault injector around a real store (not a mock database): the wrapped store does the work, the
 * wrapper can make operations fail or slow down, so tests can take the new (or old) store "down".
 */
import { ConnectionError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/store.js';

export interface Faults {
  /** Operations that throw ConnectionError (e.g. ['putMany']); '*' for all. */
  failing: Set<string>;
  /** Added latency in ms per operation. */
  delayMs: number;
  /** Extra random latency 0..jitterMs per operation, so operations overtake each other. */
  jitterMs: number;
  /** A fraction 0..1 of calls of failing operations that fail (1 = all). */
  failRate: number;
  /** While set, operations named in `holdOps` wait for this promise first (a hung store). */
  hold: Promise<void> | null;
  holdOps: Set<string>;
}

export interface FaultyStore extends Store {
  faults: Faults;
}

const OPS = ['listCollections', 'ensureCollection', 'count', 'isOrdered', 'getMany', 'putMany', 'deleteMany', 'stats', 'dropCollection'] as const;

export function withFaults(inner: Store, name = inner.driver): FaultyStore {
  const faults: Faults = { failing: new Set(), delayMs: 0, jitterMs: 0, failRate: 1, hold: null, holdOps: new Set() };
  const wrapper: Record<string, unknown> = {
    driver: inner.driver,
    location: `${inner.location} (fault injector)`,
    capabilities: inner.capabilities,
    faults,
    open: () => inner.open(),
    close: () => inner.close(),
    isOrdered: (c: string) => inner.isOrdered(c),
    scan: (c: string, o: unknown) => {
      if (faults.failing.has('*') || faults.failing.has('scan')) throw new ConnectionError(name, 'injected fault: scan');
      return inner.scan(c, o as never);
    },
  };
  for (const op of OPS) {
    const fn = (inner as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>)[op];
    if (!fn) continue;
    wrapper[op] = async (...args: unknown[]) => {
      const wait = faults.delayMs + (faults.jitterMs > 0 ? Math.random() * faults.jitterMs : 0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (faults.hold && faults.holdOps.has(op)) await faults.hold;
      if ((faults.failing.has('*') || faults.failing.has(op)) && Math.random() < faults.failRate) {
        throw new ConnectionError(name, `injected fault: ${op} refused (store down)`);
      }
      return fn.apply(inner, args);
    };
  }
  return wrapper as unknown as FaultyStore;
}

/** A promise and the function that resolves it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}
