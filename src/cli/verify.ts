/**
 * `cutover verify --from URL --to URL`: prove two stores hold the same data. Prints the table (or
 * `--json`) and exits 0 when equal, 1 when they differ, 2 on errors.
 */
import type { Command } from 'commander';
import { ConfigurationError, describeError } from '../core/errors.js';
import { formatCount } from '../observe/numbers.js';
import { formatReport, resultToJson } from '../verify/report.js';
import type { VerifyMode, VerifyProgress } from '../verify/types.js';
import { verify } from '../verify/verify.js';
import { EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, parseList, writeJson, type CliCommand } from './command.js';

const verifyCommand: CliCommand = {
  name: 'verify',
  configure(command: Command) {
    command
      .description('Compare two stores record by record, report every difference, and optionally repair it')
      .requiredOption('--from <url>', 'source store URL (the truth)')
      .requiredOption('--to <url>', 'target store URL (the copy to check)')
      .option('--only <collections>', 'comma-separated collections to check (default: all)')
      .option('--mode <mode>', 'count | checksum | full | sample', 'checksum')
      .option('--sample <size>', 'records to sample: a count (10000) or a percentage (1%)')
      .option('--confidence <c>', 'confidence of the sample bound (default 0.99)')
      .option('--repair', 'copy missing and different records from source to target, then verify again')
      .option('--delete-extra', 'with --repair, delete records only the target holds')
      .option('--json', 'print the result as JSON')
      .option('--max-rate <n>', 'records per second at most, reads and writes together')
      .option('--examples <n>', 'examples of each kind to show per collection', '10')
      .option('--refs <file>', 'YAML/JSON file of references to check in the target');
  },
  async run(options, _args, context) {
    try {
      const mode = String(options.mode ?? 'checksum') as VerifyMode;
      const examples = Number(options.examples ?? 10);
      let maxRate: number | undefined;
      if (options.maxRate !== undefined) {
        maxRate = Number(options.maxRate);
        if (!(maxRate > 0)) throw new ConfigurationError(`--max-rate must be a positive number of records per second, got "${String(options.maxRate)}"`);
      }
      const only = parseList(options.only);
      // A live line on a terminal only; pipes and logs get the report alone.
      let lastDraw = 0;
      const progress = context.stderr.isTTY
        ? (e: VerifyProgress) => {
            const now = Date.now();
            if (now - lastDraw < 250) return;
            lastDraw = now;
            context.stderr.write(`\r[cutover] verify ${e.phase} ${e.collection}: ${formatCount(e.records)} records read\u001b[K`);
          }
        : undefined;
      const result = await verify({
        from: String(options.from),
        to: String(options.to),
        mode,
        examples,
        repair: options.repair === true,
        deleteExtra: options.deleteExtra === true,
        signal: context.signal,
        ...(progress ? { onProgress: progress } : {}),
        ...(only ? { only } : {}),
        ...(options.sample !== undefined ? { sample: String(options.sample) } : {}),
        ...(options.confidence !== undefined ? { confidence: Number(options.confidence) } : {}),
        ...(maxRate !== undefined ? { maxRate } : {}),
        ...(options.refs !== undefined ? { refs: String(options.refs) } : {}),
      });
      if (progress && lastDraw > 0) context.stderr.write('\r\u001b[K');
      if (options.json) writeJson(context.stdout, resultToJson(result));
      else context.stdout.write(formatReport(result));
      if (result.errors.length > 0) return EXIT_ERROR;
      return result.ok ? EXIT_OK : EXIT_PROBLEMS;
    } catch (err) {
      context.stderr.write(`${describeError(err)}\n`);
      return EXIT_ERROR;
    }
  },
};

export default verifyCommand;
