/**
 * A fault injector around a real store (not a mock): it forwards everything to the wrapped store and
 * fails chosen writes, to exercise retries and bisection.
 */
import type { Store, PutOptions } from '../../src/core/store.js';
import type { StoredRecord } from '../../src/core/record.js';

export interface Faults {
  /** Throw a permanent error for any batch containing a key this returns true for. */
  poison?: (key: string) => boolean;
  /** Throw a transient (ECONNRESET) error on the first N putMany calls. */
  transientFailures?: number;
  /** Called before each putMany. */
  beforePut?: (records: StoredRecord[]) => void | Promise<void>;
}

export function faulty(inner: Store, faults: Faults): Store & { puts: number } {
  let transient = faults.transientFailures ?? 0;
  const wrapped = Object.create(inner) as Store & { puts: number };
  wrapped.puts = 0;
  wrapped.putMany = async (collection: string, records: StoredRecord[], options?: PutOptions) => {
    wrapped.puts++;
    await faults.beforePut?.(records);
    if (transient > 0) {
      transient--;
      throw Object.assign(new Error('read ECONNRESET (injected)'), { code: 'ECONNRESET' });
    }
    const bad = faults.poison ? records.find((r) => faults.poison!(r.key)) : undefined;
    if (bad) throw new Error(`value for ${bad.key} violates a constraint (injected)`);
    return inner.putMany(collection, records, options);
  };
  return wrapped;
}
