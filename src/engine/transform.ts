/**
 * `--transform ./module.js`: a module whose default export maps one record to a record, several
 * records, or null to drop it. Throwing rejects the record (it goes to the rejects file with the
 * message). The function may be async.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { ConfigurationError, describeError, type RejectInfo } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';

export interface TransformContext {
  collection: string;
}

export type TransformFn = (
  record: StoredRecord,
  context: TransformContext,
) => StoredRecord | StoredRecord[] | null | undefined | Promise<StoredRecord | StoredRecord[] | null | undefined>;

export async function loadTransform(path: string): Promise<TransformFn> {
  let mod: { default?: unknown; transform?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as typeof mod;
  } catch (cause) {
    throw new ConfigurationError(`cannot load the transform module ${path}: ${describeError(cause)}`, { cause });
  }
  const fn = mod.default ?? mod.transform;
  if (typeof fn !== 'function') {
    throw new ConfigurationError(`the transform module ${path} must export a function as default (record, { collection }) => record | record[] | null`);
  }
  return fn as TransformFn;
}

export async function applyTransform(
  fn: TransformFn,
  collection: string,
  records: StoredRecord[],
  locationOf: ((index: number) => string) | undefined,
  fallbackLocation: string,
): Promise<{ records: StoredRecord[]; rejects: RejectInfo[]; dropped: number }> {
  const out: StoredRecord[] = [];
  const rejects: RejectInfo[] = [];
  let dropped = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    try {
      const result = await fn(record, { collection });
      if (result == null) dropped++;
      else if (Array.isArray(result)) out.push(...result);
      else out.push(result);
    } catch (err) {
      rejects.push({ collection, key: record.key, location: locationOf?.(i) ?? fallbackLocation, reason: `transform failed: ${describeError(err)}` });
    }
  }
  return { records: out, rejects, dropped };
}
