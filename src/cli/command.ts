/**
 * A CLI command is a module that declares its options and turns a library result into output and an
 * exit code. The library functions it calls return result objects and never print or exit.
 * Exit codes: 0 clean, 1 problems found (rejects, differences), 2 errors.
 */
import type { Command } from 'commander';
import { ConfigurationError } from '../core/errors.js';

export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Aborted on SIGINT/SIGTERM: commands finish the work in flight and stop. */
  signal: AbortSignal;
}

export interface CliCommand {
  name: string;
  /** Adds arguments and options to the commander command. */
  configure(command: Command): void;
  /** Runs with commander's parsed options and positional arguments; returns the exit code. */
  run(options: Record<string, unknown>, args: string[], context: CliContext): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_ERROR = 2;

export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(JSON.stringify(value, null, 2) + '\n');
}

export function parseList(value: unknown): string[] | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseIntOption(name: string, value: unknown, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConfigurationError(`--${name} must be an integer of at least ${min}, got "${String(value)}"`);
  return n;
}
