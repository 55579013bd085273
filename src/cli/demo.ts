import { EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, parseIntOption, writeJson, type CliCommand } from './command.js';

const command: CliCommand = {
  name: 'demo',
  configure(cmd) {
    cmd
      .description('generate a realistic file store (~200k records, a few broken on purpose), migrate it to SQLite, and check the result')
      .option('--records <n>', 'records to generate', '200000')
      .option('--dir <path>', 'working folder, replaced on each run', '.cutover-demo')
      .option('--json', 'machine-readable output');
  },
  async run(o, _args, ctx) {
    const { demo } = await import('../demo/demo.js');
    const { progressFor, formatCount } = await import('../observe/progress.js');
    const { renderSummary } = await import('../observe/summary.js');
    const { renderTable } = await import('../observe/table.js');
    const json = o.json === true;
    const sink = progressFor(ctx.stderr, json);
    const records = parseIntOption('records', o.records, 100) ?? 200_000;
    let result;
    try {
      result = await demo({
        records,
        dir: String(o.dir),
        signal: ctx.signal,
        onEvent: (e) => sink.onEvent(e),
        onGenerated: (g, seconds) => {
          if (!json) ctx.stderr.write(`generated a file store of ${formatCount(g.total)} records (${Object.values(g.planted).flat().length} broken on purpose) in ${g.root} in ${seconds.toFixed(1)}s\nmigrating it to SQLite...\n`);
        },
      });
    } finally {
      sink.stop();
    }
    if (json) {
      writeJson(ctx.stdout, result);
      return result.ok ? EXIT_OK : result.migration.status === 'failed' ? EXIT_ERROR : EXIT_PROBLEMS;
    }
    ctx.stdout.write(renderSummary(result.migration));
    if (result.migration.status !== 'completed') return result.migration.status === 'failed' ? EXIT_ERROR : EXIT_PROBLEMS;
    ctx.stdout.write('\nChecked against what the generator planted:\n');
    ctx.stdout.write(
      renderTable(
        ['collection', 'good records', 'in target', 'broken on purpose', 'in rejects file', 'ok'],
        result.checks.map((c) => [c.collection, formatCount(c.expected), formatCount(c.inTarget), c.plantedBad, c.rejected, c.ok ? 'yes' : 'NO']),
      ).replace(/^(?=.)/gm, '  '),
    );
    ctx.stdout.write(`  exact values read back (big integers, long decimals, unicode): ${result.exactValues.filter((v) => v.ok).length}/${result.exactValues.length} identical\n`);
    ctx.stdout.write(`\n  source: ${result.sourceUrl}\n  target: ${result.targetUrl}\n  rejects (one JSON line each, with file and reason): ${result.migration.rejectsFile}\n`);
    ctx.stdout.write(result.ok ? '\nDemo passed: every good record landed with its exact value; every broken one is in the rejects file.\n' : '\nDemo FAILED: see the table above.\n');
    return result.ok ? EXIT_OK : EXIT_PROBLEMS;
  },
};

export default command;
