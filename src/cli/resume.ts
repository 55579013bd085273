import { runMigration, verifyFlag } from './migrate.js';
import type { CliCommand } from './command.js';

const command: CliCommand = {
  name: 'resume',
  configure(cmd) {
    cmd
      .description('continue a paused or failed migration from its checkpoints')
      .argument('<id>', 'migration id (see "cutover status")')
      .option('--state <path>', 'state database (default .cutover/state.db)')
      .option('--max-rate <n>', 'cap on records per second for the whole job')
      .option('--verify [mode]', 'verify after the copy: checksum (default), full, count or sample')
      .option('--no-verify', 'skip the verification after the copy')
      .option('--json', 'machine-readable output');
  },
  async run(o, args, ctx) {
    const { openStateStore } = await import('../state/state-store.js');
    const { optionsOfMigration } = await import('../engine/migrate.js');
    const state = openStateStore(o.state as string | undefined);
    let options;
    try {
      const row = state.listMigrations(args[0]!)[0];
      options = optionsOfMigration(state, row?.id ?? args[0]!);
    } finally {
      state.close();
    }
    if (typeof o.state === 'string') options.state = o.state;
    if (o.maxRate !== undefined) options.maxRate = Number(o.maxRate);
    const { code } = await runMigration(options, { json: o.json === true, verify: verifyFlag(o.verify, Boolean(options.transform)) }, ctx);
    return code;
  },
};

export default command;
