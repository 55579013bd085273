import { EXIT_OK, writeJson, type CliCommand } from './command.js';

const command: CliCommand = {
  name: 'status',
  configure(cmd) {
    cmd
      .description('migrations and per-collection progress, rate, ETA, state and errors')
      .argument('[id]', 'one migration (an id prefix is enough)')
      .option('--state <path>', 'state database (default .cutover/state.db)')
      .option('--json', 'machine-readable output');
  },
  async run(o, args, ctx) {
    const { status } = await import('../state/status.js');
    const { renderTable } = await import('../observe/table.js');
    const { formatCount, formatDuration } = await import('../observe/progress.js');
    const result = await status({ ...(args[0] ? { id: args[0] } : {}), ...(typeof o.state === 'string' ? { state: o.state } : {}) });
    if (o.json === true) {
      writeJson(ctx.stdout, result);
      return EXIT_OK;
    }
    if (result.migrations.length === 0) {
      ctx.stdout.write(`no migrations in ${result.statePath}${args[0] ? ` matching "${args[0]}"` : ''}\n`);
      return EXIT_OK;
    }
    for (const m of result.migrations) {
      const state = m.stale ? `${m.status} (process gone: resume with "cutover resume ${m.id}")` : m.pauseRequested ? `${m.status} (pause requested)` : m.status;
      ctx.stdout.write(`\n${m.id}  ${state}\n  from ${m.source}\n  to   ${m.target}\n  started ${m.createdAt}, updated ${m.updatedAt}\n`);
      if (m.error) ctx.stdout.write(`  error: ${m.error}\n`);
      ctx.stdout.write(
        '\n' +
          renderTable(
            ['unit', 'state', 'read', 'total', '%', 'written', 'rejected', 'retries', 'records/s', 'ETA'],
            m.units.map((u) => [
              u.unit, u.status, formatCount(u.read), u.total === null ? '?' : formatCount(u.total),
              u.percent === null ? '?' : u.percent.toFixed(1), formatCount(u.written), formatCount(u.rejected),
              formatCount(u.retries), formatCount(u.rate), u.status === 'done' ? '-' : formatDuration(u.etaSeconds),
            ]),
          ).replace(/^(?=.)/gm, '  '),
      );
      for (const u of m.units.filter((x) => x.error)) ctx.stdout.write(`  ${u.unit}: ${u.error}\n`);
      for (const e of m.recentEvents) ctx.stdout.write(`  ${e.at} ${e.event}${e.detail ? ' ' + e.detail : ''}\n`);
    }
    return EXIT_OK;
  },
};

export default command;
