/**
 * The CLI entry: one table of commands, each in its own module (changesets-style). Only this file
 * exits; expected errors print one sentence, `--debug` adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { CutoverError, describeError } from '../core/errors.js';
import { EXIT_ERROR, type CliCommand, type CliContext } from './command.js';

/** Command modules, in the order `--help` lists them. */
const COMMANDS = [
  'migrate', 'resume', 'pause', 'status', 'verify', 'route', 'discrepancies', 'demo',
] as const;

/**
 * Loads the command being run, or every command for help and unknown names: a command module pulls in
 * its part of the library (verify, the dual store, zod, yaml…), and loading all of them costs ~0.3 s.
 */
async function loadCommands(argv: string[]): Promise<CliCommand[]> {
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = (COMMANDS as readonly string[]).includes(first ?? '') ? [first!] : COMMANDS;
  const loaded: CliCommand[] = [];
  for (const name of names) {
    try {
      const mod = (await import(`./${name}.js`)) as { default: CliCommand };
      loaded.push(mod.default);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    }
  }
  return loaded;
}

function version(): string {
  return '0.1.0';
}

export async function main(argv: string[], context?: Partial<CliContext>): Promise<number> {
  const controller = new AbortController();
  const ctx: CliContext = {
    stdout: context?.stdout ?? process.stdout,
    stderr: context?.stderr ?? process.stderr,
    signal: context?.signal ?? controller.signal,
  };
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      ctx.stderr.write(`[cutover] second ${sig}: exiting now; the last committed checkpoint is kept\n`);
      process.exit(130);
    }
    ctx.stderr.write(`[cutover] ${sig}: finishing the batch in flight, then pausing (again to quit at once)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  if (!context?.signal) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const program = new Command('cutover')
    .description('Move application data between storage backends with zero downtime and zero loss.')
    .version(version())
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });

  let exitCode = 0;
  for (const command of await loadCommands(argv)) {
    const sub = program.command(command.name);
    command.configure(sub);
    sub.action(async (...actionArgs: unknown[]) => {
      const cmd = actionArgs[actionArgs.length - 1] as Command;
      const options = cmd.opts();
      const args = cmd.args;
      exitCode = await command.run(options, args, ctx);
    });
  }

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : EXIT_ERROR;
    }
    const debug = program.opts().debug === true || argv.includes('--debug');
    ctx.stderr.write(`${describeError(err)}\n`);
    if (debug && err instanceof Error && err.stack) ctx.stderr.write(err.stack + '\n');
    else if (!(err instanceof CutoverError)) ctx.stderr.write('[cutover] (run with --debug for the stack trace)\n');
    return EXIT_ERROR;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
