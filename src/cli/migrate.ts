import type { Command } from 'commander';
import { ConfigurationError } from '../core/errors.js';
import { EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, parseIntOption, parseList, writeJson, type CliCommand, type CliContext } from './command.js';
import type { MigrateOptions, MigrationResult } from '../engine/migrate.js';

export function addCopyOptions(command: Command): Command {
  return command
    .option('--only <collections>', 'comma-separated collections to copy (default: all)')
    .option('--batch-size <n>', 'records per batch', '2000')
    .option('--concurrency <n>', 'units copied in parallel', '4')
    .option('--max-rate <n>', 'cap on records per second for the whole job')
    .option('--split <n>', 'split each collection into n key ranges copied in parallel (default: one range per 500,000 records, up to --concurrency, where the source finds the boundaries itself; 1: never)')
    .option('--transform <module>', 'ESM module whose default export maps a record to a record, records or null')
    .option('--state <path>', 'state database (default .cutover/state.db)')
    .option('--fail-fast', 'stop at the first rejected record instead of collecting rejects')
    .option('--no-bulk-load', 'always upsert, even into empty target collections')
    .option('--verify [mode]', 'verify source against target after the copy: checksum (default), full, count or sample')
    .option('--no-verify', 'skip the verification after the copy')
    .option('--json', 'machine-readable output: NDJSON progress on stderr, the result as JSON on stdout');
}

export function copyOptionsFrom(o: Record<string, unknown>): Omit<MigrateOptions, 'from' | 'to'> {
  const out: Omit<MigrateOptions, 'from' | 'to'> = {};
  const only = parseList(o.only);
  if (only) out.only = only;
  const batchSize = parseIntOption('batch-size', o.batchSize);
  if (batchSize) out.batchSize = batchSize;
  const concurrency = parseIntOption('concurrency', o.concurrency);
  if (concurrency) out.concurrency = concurrency;
  const maxRate = parseIntOption('max-rate', o.maxRate);
  if (maxRate) out.maxRate = maxRate;
  const split = parseIntOption('split', o.split);
  if (split) out.split = split;
  if (typeof o.transform === 'string') out.transform = o.transform;
  if (typeof o.state === 'string') out.state = o.state;
  if (o.failFast === true) out.failFast = true;
  if (o.bulkLoad === false) out.bulkLoad = false;
  if (o.dryRun === true) out.dryRun = true;
  if (o.restart === true) out.restart = true;
  return out;
}

/** Runs a migration with progress on stderr and the summary (or JSON) on stdout; shared by migrate, resume and demo. */
export async function runMigration(options: MigrateOptions, flags: { json: boolean; verify: VerifyFlag }, ctx: CliContext): Promise<{ code: number; result: MigrationResult }> {
  const { migrate } = await import('../engine/migrate.js');
  const { progressFor } = await import('../observe/progress.js');
  const { renderSummary } = await import('../observe/summary.js');
  const sink = options.dryRun ? null : progressFor(ctx.stderr, flags.json);
  let result: MigrationResult;
  try {
    result = await migrate({ ...options, signal: ctx.signal, onEvent: (e) => sink?.onEvent(e) });
  } finally {
    sink?.stop();
  }
  if (!flags.json) ctx.stdout.write(renderSummary(result));
  let verifyOk = true;
  let verifyResult: unknown;
  if (flags.verify && (result.status === 'completed' || result.status === 'already-completed')) {
    const verified = await verifyAfterCopy(options, flags.verify, ctx);
    verifyOk = verified.ok;
    verifyResult = verified.result;
    if (!flags.json) ctx.stdout.write(verified.text);
  }
  if (flags.json) writeJson(ctx.stdout, verifyResult ? { ...result, verify: verifyResult } : result);
  const code = result.status === 'failed' ? EXIT_ERROR : result.rejectsTotal > 0 || !verifyOk ? EXIT_PROBLEMS : EXIT_OK;
  return { code, result };
}

export type VerifyFlag = false | 'count' | 'checksum' | 'full' | 'sample';

/** `--verify [mode]` / `--no-verify` as commander parses them; transforms change values on purpose, so no default verify then. */
export function verifyFlag(value: unknown, transformed: boolean): VerifyFlag {
  if (value === false) return false;
  if (value === undefined || value === true) return transformed ? false : 'checksum';
  if (value === 'count' || value === 'checksum' || value === 'full' || value === 'sample') return value;
  throw new ConfigurationError(`--verify takes count, checksum, full or sample, got "${String(value)}"`);
}

/** `migrate --verify` (the default): compare source and target after the copy. */
async function verifyAfterCopy(options: MigrateOptions, mode: Exclude<VerifyFlag, false>, ctx: CliContext): Promise<{ ok: boolean; text: string; result: unknown }> {
  const { verify } = await import('../verify/verify.js');
  const { formatReport, resultToJson } = await import('../verify/report.js');
  const result = await verify({ from: options.from, to: options.to, mode, signal: ctx.signal, ...(options.only ? { only: options.only } : {}) });
  return { ok: result.ok, text: `\nVerification after the copy (${mode}):\n${formatReport(result)}`, result: resultToJson(result) };
}

const command: CliCommand = {
  name: 'migrate',
  configure(cmd) {
    cmd
      .description('copy every record from one store to another: streaming, batched, resumable')
      .requiredOption('--from <url>', 'source store URL (file:DIR, sqlite:PATH, postgres://…, mysql://…, redis://…)')
      .requiredOption('--to <url>', 'target store URL')
      .option('--dry-run', 'print the plan and a time estimate; write nothing')
      .option('--restart', 'forget earlier progress of this migration and copy from the start');
    addCopyOptions(cmd);
  },
  async run(o, _args, ctx) {
    const options: MigrateOptions = { from: String(o.from), to: String(o.to), ...copyOptionsFrom(o) };
    const verify = options.dryRun ? false : verifyFlag(o.verify, Boolean(options.transform));
    const { code } = await runMigration(options, { json: o.json === true, verify }, ctx);
    return code;
  },
};

export default command;
