/**
 * Where the dual store's flags come from. A `FlagSource` holds the flags in force and tells
 * subscribers when they change; sources that read files or databases refuse invalid flags through
 * `onError` and keep the previous ones.
 */
import { DEFAULT_FLAGS, parseFlags, type DualFlags, type DualFlagsInput } from './modes.js';

export type FlagsListener = (flags: DualFlags) => void;

export interface FlagSource {
  /** The flags in force now (always valid). */
  current(): DualFlags;
  /** Calls the listener on every accepted change; returns an unsubscribe function. */
  subscribe(listener: FlagsListener): () => void;
  close(): Promise<void>;
}

export interface FlagSourceOptions {
  /** Called with a ConfigurationError when new flags are refused (the previous stay in force). */
  onError?: (error: Error) => void;
}

/** Shared plumbing: holds the current flags and the listeners. */
export class FlagHolder implements FlagSource {
  private flags: DualFlags;
  private readonly listeners = new Set<FlagsListener>();

  constructor(initial: DualFlags = DEFAULT_FLAGS, protected readonly onError: (error: Error) => void = () => {}) {
    this.flags = initial;
  }

  current(): DualFlags {
    return this.flags;
  }

  subscribe(listener: FlagsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and applies; on invalid input reports through onError and keeps the previous flags. */
  protected offer(input: unknown, origin: string): boolean {
    let next: DualFlags;
    try {
      next = parseFlags(input, origin);
    } catch (err) {
      this.onError(err as Error);
      return false;
    }
    if (JSON.stringify(next) === JSON.stringify(this.flags)) return true;
    this.flags = next;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.onError(err as Error);
      }
    }
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** Flags set from code (tests, an admin endpoint). `set` throws on invalid flags. */
export class StaticFlags extends FlagHolder {
  constructor(initial: DualFlagsInput = { mode: 'old-only' }) {
    super(parseFlags(initial, 'code'));
  }

  set(input: DualFlagsInput): DualFlags {
    const flags = parseFlags(input, 'code');
    this.offer(flags, 'code');
    return flags;
  }
}

export function staticFlags(initial?: DualFlagsInput): StaticFlags {
  return new StaticFlags(initial);
}

export function isFlagSource(value: unknown): value is FlagSource {
  return typeof value === 'object' && value !== null && typeof (value as FlagSource).current === 'function'
    && typeof (value as FlagSource).subscribe === 'function';
}
