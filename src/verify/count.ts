/**
 * Count mode: exact record counts on both sides, nothing else. Cheap, and proves little: equal
 * counts say nothing about contents, so `missing`/`extra` are only the net difference of the counts.
 */
import type { Store } from '../core/store.js';
import type { CollectionResult } from './types.js';

export async function countCollection(source: Store, target: Store, collection: string, signal?: AbortSignal): Promise<{ sourceCount: number; targetCount: number }> {
  const opts = signal ? { signal } : undefined;
  const [sourceCount, targetCount] = await Promise.all([source.count(collection, opts), target.count(collection, opts)]);
  return { sourceCount, targetCount };
}

export function countResult(collection: string, sourceCount: number, targetCount: number, seconds: number): CollectionResult {
  return {
    collection,
    sourceCount,
    targetCount,
    matching: Math.min(sourceCount, targetCount),
    missing: Math.max(0, sourceCount - targetCount),
    different: 0,
    extra: Math.max(0, targetCount - sourceCount),
    examples: [],
    recordsPerSecond: Math.round(Math.max(sourceCount, targetCount) / Math.max(seconds, 1e-3)),
    bytesTransferred: 16,
    method: 'count',
    note: 'counts only: contents were not compared; missing/extra are the net difference of the counts',
  };
}
