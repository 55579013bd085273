import { createHash } from 'node:crypto';

/**
 * The same migration (same source, target, collections and transform) gets the same id, so running
 * the same command again resumes it instead of starting a second copy.
 */
export function migrationId(parts: { from: string; to: string; only?: string[]; transform?: string; split?: number }): string {
  const h = createHash('sha256')
    .update(JSON.stringify([parts.from, parts.to, [...(parts.only ?? [])].sort(), parts.transform ?? null, parts.split ?? null]))
    .digest('hex');
  return `m-${h.slice(0, 10)}`;
}
