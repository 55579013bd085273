/**
 * The dual store's flags: which mode is in force and its settings. Flags come from a file, a SQLite
 * table or code; they are validated here with zod, and invalid flags are refused as a whole (the
 * caller keeps the previous ones), so a typo in a flags file never half-applies.
 */
import { z } from 'zod';
import { ConfigurationError } from '../core/errors.js';

export const MODES = [
  'old-only',
  'new-only',
  'write-through',
  'shadow',
  'read-validation',
  'progressive',
  'canary',
  'new-primary',
] as const;

export type DualMode = (typeof MODES)[number];
export type Side = 'old' | 'new';

const shadowSchema = z
  .object({
    /** Fraction of reads that are also read from the new store, 0..1. @default 1 */
    sampleRate: z.number().min(0).max(1).default(1),
    /** A shadow read slower than this is abandoned (and counted), at most a quarter of it (≤ 250 ms) later. @default 1000 */
    timeoutMs: z.number().int().min(1).max(600_000).default(1000),
    /** Shadow reads in flight at once; more are skipped, never queued. @default 16 */
    maxConcurrent: z.number().int().min(1).max(10_000).default(16),
  })
  .strict();

export const flagsSchema = z
  .object({
    mode: z.enum(MODES),
    /** Progressive: percentage (0..100, two decimals) of keys read from the new store. @default 0 */
    readPercent: z.number().min(0).max(100).default(0),
    /** Progressive: which store is primary for writes. @default "old" */
    writePrimary: z.enum(['old', 'new']).default('old'),
    /** Canary: entries `collection` or `collection:keyGlob` (globs with * and ?) routed to the new store. */
    canary: z.array(z.string().min(1).regex(/^[^:]+(:.*)?$/, 'canary entries are "collection" or "collection:keyGlob"')).default([]),
    shadow: shadowSchema.default({ sampleRate: 1, timeoutMs: 1000, maxConcurrent: 16 }),
    /** Copy old → new when a shadow/validation read differs. @default false */
    readRepair: z.boolean().default(false),
    /** Free text saying who changed the flags and why (shown by `cutover route --show`). */
    note: z.string().max(1000).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.mode === 'canary' && f.canary.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['canary'], message: 'canary mode needs at least one canary entry' });
    }
  });

/** Flags as written by people (defaults omitted). */
export type DualFlagsInput = z.input<typeof flagsSchema>;
/** Flags with every default filled in. */
export type DualFlags = z.output<typeof flagsSchema>;

/**
 * Validates flags; throws a ConfigurationError naming every problem and where the flags came from.
 */
export function parseFlags(input: unknown, origin = 'flags'): DualFlags {
  const result = flagsSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  throw new ConfigurationError(
    `invalid dual-store flags in ${origin} (${problems}); fix them, the previous flags stay in force until then`,
  );
}

export const DEFAULT_FLAGS: DualFlags = parseFlags({ mode: 'old-only' });

/** Whether the mode writes to both stores. */
export function isDualWrite(mode: DualMode): boolean {
  return mode !== 'old-only' && mode !== 'new-only';
}
