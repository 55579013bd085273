/**
 * `cutover route`: changes the dual store's flags (every running instance picks them up within a
 * second or two) or shows the flags in force. Flags live in a file (`--flags`, JSON or YAML) or in
 * the state database (`--state`, default .cutover/state.db). Options not given keep their current
 * value, so `cutover route --read 50` only raises the percentage.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigurationError, describeError } from '../core/errors.js';
import { readFlagsFile, writeFlagsFile } from '../dual/flags-file.js';
import { DEFAULT_STATE_PATH, readSqliteFlags, writeSqliteFlags } from '../dual/flags-sqlite.js';
import { MODES, parseFlags, type DualFlags, type DualFlagsInput } from '../dual/modes.js';
import { EXIT_ERROR, EXIT_OK, parseList, writeJson, type CliCommand, type CliContext } from './command.js';

export interface RouteOptions {
  mode?: string;
  /** Percentage of keys read from the new store (progressive). */
  read?: number;
  writePrimary?: 'old' | 'new';
  canary?: string[];
  shadowSample?: number;
  readRepair?: boolean;
  note?: string;
  /** Flags file (JSON or YAML); otherwise the state database. */
  flags?: string;
  state?: string;
  /** Only show what is in force. */
  show?: boolean;
}

export interface RouteResult {
  changed: boolean;
  where: string;
  flags: DualFlags | null;
  version?: number;
  updatedAt?: string;
}

function current(options: RouteOptions): { flags: DualFlags | null; version?: number; updatedAt?: string; where: string } {
  if (options.flags) {
    return { flags: existsSync(options.flags) ? readFlagsFile(options.flags) : null, where: options.flags };
  }
  const state = options.state ?? DEFAULT_STATE_PATH;
  const stored = readSqliteFlags(state);
  return stored ? { ...stored, where: `${state} (table dual_flags)` } : { flags: null, where: `${state} (table dual_flags)` };
}

/** Shows or changes the flags; the library half of the command (no printing). */
export function route(options: RouteOptions): RouteResult {
  const now = current(options);
  const changing = options.mode !== undefined || options.read !== undefined || options.writePrimary !== undefined
    || options.canary !== undefined || options.shadowSample !== undefined || options.readRepair !== undefined || options.note !== undefined;
  if (options.show || !changing) return { changed: false, ...now };
  if (!now.flags && options.mode === undefined) {
    throw new ConfigurationError(`no flags are set in ${now.where} yet; give --mode (one of ${MODES.join(', ')})`);
  }
  const base: DualFlagsInput = now.flags ?? { mode: options.mode as DualFlags['mode'] };
  const next: Record<string, unknown> = { ...base };
  if (options.mode !== undefined) next.mode = options.mode;
  if (options.read !== undefined) next.readPercent = options.read;
  if (options.writePrimary !== undefined) next.writePrimary = options.writePrimary;
  if (options.canary !== undefined) next.canary = options.canary;
  if (options.shadowSample !== undefined) next.shadow = { ...(base.shadow ?? {}), sampleRate: options.shadowSample };
  if (options.readRepair !== undefined) next.readRepair = options.readRepair;
  if (options.note !== undefined) next.note = options.note;
  const flags = parseFlags(next, 'the command line');
  if (options.flags) {
    writeFlagsFile(options.flags, flags);
    return { changed: true, where: options.flags, flags };
  }
  const stored = writeSqliteFlags(options.state ?? DEFAULT_STATE_PATH, flags);
  return { changed: true, where: now.where, flags, version: stored.version, updatedAt: stored.updatedAt };
}

/** One paragraph a person can read. */
export function describeFlags(flags: DualFlags): string {
  const lines = [`mode: ${flags.mode}`];
  if (flags.mode === 'progressive') {
    lines.push(`reads from new: ${flags.readPercent}% of keys`, `write primary: ${flags.writePrimary}`);
  }
  if (flags.canary.length > 0) lines.push(`canary (to new): ${flags.canary.join(', ')}`);
  if (flags.mode === 'shadow' || flags.mode === 'read-validation') {
    lines.push(`shadow: sample ${flags.shadow.sampleRate}, timeout ${flags.shadow.timeoutMs} ms, at most ${flags.shadow.maxConcurrent} in flight`);
  }
  if (flags.readRepair) lines.push('read-repair: on');
  if (flags.note) lines.push(`note: ${flags.note}`);
  return lines.join('\n');
}

function number(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConfigurationError(`--${name} must be a number, got "${String(value)}"`);
  return n;
}

const command: CliCommand = {
  name: 'route',
  configure(cmd: Command) {
    cmd
      .description('change or show the dual store\'s routing flags; running instances pick changes up within seconds')
      .option('--mode <mode>', `one of ${MODES.join(', ')}`)
      .option('--read <percent>', 'progressive: percentage of keys read from the new store (0-100)')
      .option('--write-primary <side>', 'progressive: primary store for writes (old|new)')
      .option('--canary <list>', 'canary: comma-separated collections or collection:keyGlob entries routed to new')
      .option('--shadow-sample <rate>', 'shadow: fraction of reads compared (0-1)')
      .option('--read-repair', 'copy old to new when a shadow read differs')
      .option('--no-read-repair', 'turn read-repair off')
      .option('--note <text>', 'why the flags changed (shown by --show)')
      .option('--flags <file>', 'flags file (JSON or YAML) instead of the state database')
      .option('--state <path>', 'state database', DEFAULT_STATE_PATH)
      .option('--show', 'print the flags in force and change nothing')
      .option('--json', 'machine-readable output');
  },
  async run(opts: Record<string, unknown>, _args: string[], ctx: CliContext): Promise<number> {
    let result: RouteResult;
    try {
      const side = opts.writePrimary as string | undefined;
      if (side !== undefined && side !== 'old' && side !== 'new') {
        throw new ConfigurationError(`--write-primary must be "old" or "new", got "${side}"`);
      }
      result = route({
        mode: opts.mode as string | undefined,
        read: number('read', opts.read),
        writePrimary: side as 'old' | 'new' | undefined,
        canary: opts.canary === undefined ? undefined : parseList(opts.canary) ?? [],
        shadowSample: number('shadow-sample', opts.shadowSample),
        readRepair: opts.readRepair as boolean | undefined,
        note: opts.note as string | undefined,
        flags: opts.flags as string | undefined,
        state: opts.state as string | undefined,
        show: opts.show === true,
      });
    } catch (err) {
      if (opts.json) writeJson(ctx.stdout, { error: describeError(err) });
      else ctx.stderr.write(`${describeError(err)}\n`);
      return EXIT_ERROR;
    }
    if (opts.json) {
      writeJson(ctx.stdout, result);
      return EXIT_OK;
    }
    if (!result.flags) {
      ctx.stdout.write(`no flags set in ${result.where}; instances use their initial flags (old-only unless configured)\n`);
      return EXIT_OK;
    }
    const head = result.changed ? `flags changed in ${result.where}` : `flags in force (${result.where})`;
    const version = result.version !== undefined ? `, version ${result.version}, ${result.updatedAt}` : '';
    ctx.stdout.write(`${head}${version}\n${describeFlags(result.flags)}\n`);
    return EXIT_OK;
  },
};

export default command;
