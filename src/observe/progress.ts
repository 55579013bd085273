/**
 * Progress for people and machines. On a TTY: one bar per unit with records, rate and ETA. Off a TTY
 * (or with --json): newline-delimited JSON events on stderr, one per event, throttled per unit.
 */
import cliProgress from 'cli-progress';
import type { MigrationEvent } from '../engine/events.js';
import { formatCount } from './numbers.js';

export interface ProgressSink {
  onEvent(event: MigrationEvent): void;
  stop(): void;
}

export { formatCount } from './numbers.js';

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function ndjsonProgress(stream: NodeJS.WritableStream, intervalMs = 500): ProgressSink {
  const last = new Map<string, number>();
  return {
    onEvent(event) {
      if (event.type === 'progress') {
        const now = performance.now();
        if (now - (last.get(event.unit) ?? -Infinity) < intervalMs) return;
        last.set(event.unit, now);
      }
      stream.write(JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n');
    },
    stop() {},
  };
}

export function barsProgress(stream: NodeJS.WritableStream): ProgressSink {
  const multi = new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: ' {name} |{bar}| {percentage}% {valueText}/{totalText} records | {rate}/s | ETA {etaText} | rejected {rejected}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 8,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let longest = 0;
  return {
    onEvent(event) {
      if (event.type === 'plan') {
        longest = Math.min(24, Math.max(...event.units.map((u) => u.unit.length), 8));
        return;
      }
      if (event.type === 'reject' || event.type === 'retry' || event.type === 'verify') {
        if (event.type === 'retry') multi.log(`retry ${event.attempt} on ${event.unit}: ${event.error}\n`);
        return;
      }
      const unit = event.unit;
      if (event.type === 'unit-start') {
        if (!bars.has(unit)) bars.set(unit, multi.create(1, 0, { name: unit.padEnd(longest).slice(0, Math.max(longest, 8)), valueText: '0', totalText: '?', rate: '0', etaText: '?', rejected: 0 }));
        return;
      }
      const bar = bars.get(unit);
      if (!bar) return;
      const total = event.total ?? Math.max(event.read, 1);
      bar.setTotal(Math.max(total, event.read, 1));
      bar.update(event.read, {
        valueText: formatCount(event.read),
        totalText: event.total === null ? '?' : formatCount(event.total),
        rate: formatCount(event.rate),
        etaText: event.type === 'unit-done' ? event.status : formatDuration(event.etaSeconds),
        rejected: event.rejected,
      });
    },
    stop() {
      multi.stop();
    },
  };
}

export function progressFor(stream: NodeJS.WritableStream & { isTTY?: boolean }, json: boolean): ProgressSink {
  return stream.isTTY && !json ? barsProgress(stream) : ndjsonProgress(stream);
}
