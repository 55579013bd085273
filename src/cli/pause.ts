import { EXIT_ERROR, EXIT_OK, type CliCommand } from './command.js';

const command: CliCommand = {
  name: 'pause',
  configure(cmd) {
    cmd
      .description('ask a running migration (in another terminal) to finish its batch, checkpoint and stop')
      .argument('<id>', 'migration id')
      .option('--state <path>', 'state database (default .cutover/state.db)');
  },
  async run(o, args, ctx) {
    const { pause } = await import('../state/pause.js');
    const result = await pause(args[0]!, typeof o.state === 'string' ? { state: o.state } : {});
    if (!result.requested) {
      ctx.stderr.write(`[cutover] migration ${result.id} is ${result.status}, not running; nothing to pause\n`);
      return EXIT_ERROR;
    }
    ctx.stdout.write(`pause requested for ${result.id}; it stops after the batch in flight ("cutover status ${result.id}" shows when)\n`);
    return EXIT_OK;
  },
};

export default command;
