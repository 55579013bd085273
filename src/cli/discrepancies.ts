/**
 * `cutover discrepancies`: what the dual stores persisted to the state database (table
 * `dual_discrepancies`, totals in `dual_discrepancy_counts`). Exit 1 when there are any.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigurationError, describeError } from '../core/errors.js';
import { readPersistedDiscrepancies, type DiscrepancyReport } from '../dual/discrepancy-recorder.js';
import { DEFAULT_STATE_PATH } from '../dual/flags-sqlite.js';
import { EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, parseIntOption, writeJson, type CliCommand, type CliContext } from './command.js';

export interface DiscrepanciesOptions {
  state?: string;
  /** Latest examples to show. @default 20 */
  limit?: number;
}

export function discrepancies(options: DiscrepanciesOptions = {}): DiscrepancyReport {
  const state = options.state ?? DEFAULT_STATE_PATH;
  if (!existsSync(state)) {
    throw new ConfigurationError(`state database ${state} does not exist; pass --state with the path the dual store persists to`);
  }
  return readPersistedDiscrepancies(state, options.limit ?? 20);
}

function counts(title: string, map: Record<string, number>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '' : `${title}: ${entries.map(([k, n]) => `${k} ${n}`).join(', ')}\n`;
}

export function formatDiscrepancies(report: DiscrepancyReport): string {
  if (report.total === 0) return 'no discrepancies recorded\n';
  let out = `${report.total} discrepancies recorded\n`;
  out += counts('by kind', report.byKind) + counts('by operation', report.byOperation) + counts('by collection', report.byCollection);
  if (report.examples.length > 0) out += `\nlatest ${report.examples.length}:\n`;
  for (const e of report.examples) {
    out += `  ${e.at} ${e.operation} ${e.kind} ${e.collection}/${JSON.stringify(e.key)}\n`;
    if (e.error) out += `    error: ${e.error}\n`;
    for (const d of e.diff.slice(0, 5)) out += `    ${d.path}: old ${d.old} | new ${d.new}\n`;
    if (e.diff.length === 0 && !e.error) out += `    old ${e.old ?? '(absent)'} | new ${e.new ?? '(absent)'}\n`;
  }
  return out;
}

const command: CliCommand = {
  name: 'discrepancies',
  configure(cmd: Command) {
    cmd
      .description('show the differences between old and new store that dual stores persisted')
      .option('--state <path>', 'state database', DEFAULT_STATE_PATH)
      .option('--limit <n>', 'latest examples to show', '20')
      .option('--json', 'machine-readable output');
  },
  async run(opts: Record<string, unknown>, _args: string[], ctx: CliContext): Promise<number> {
    let report: DiscrepancyReport;
    try {
      report = discrepancies({ state: opts.state as string | undefined, limit: parseIntOption('limit', opts.limit) });
    } catch (err) {
      if (opts.json) writeJson(ctx.stdout, { error: describeError(err) });
      else ctx.stderr.write(`${describeError(err)}\n`);
      return EXIT_ERROR;
    }
    if (opts.json) writeJson(ctx.stdout, report);
    else ctx.stdout.write(formatDiscrepancies(report));
    return report.total > 0 ? EXIT_PROBLEMS : EXIT_OK;
  },
};

export default command;
