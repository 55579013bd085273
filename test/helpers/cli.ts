/** Runs the built CLI (dist/) as a real child process, the way a user does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/cutover.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(DIST)) throw new Error('dist/ is missing: run "npm run build" (npm test does it) before the tests that spawn the CLI');
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], cwd: string, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun> } {
  assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export async function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, cwd, env).done;
}

/** Kill timing of the crash tests: with --max-rate 2000, twelve kills copy at most 3×2k + 9×800 ≈ 13k records. */
export const KILL_TIMING = { fromStartMs: 1000, afterProgressMs: 400 };

/**
 * Runs the CLI and SIGKILLs it at a random moment. Mostly within `afterProgressMs` of its first
 * progress event, so the kill lands after a batch was committed whatever the machine's speed; every
 * fourth attempt within `fromStartMs` of process start instead, which may land in start-up, planning
 * or the first batch. `run.signal` is 'SIGKILL' when the kill came before the process finished.
 */
export async function runKilledAtRandom(args: string[], cwd: string, attempt: number, timing: { fromStartMs: number; afterProgressMs: number }): Promise<CliRun> {
  const { child, done } = startCli(args, cwd);
  let timer: NodeJS.Timeout | undefined;
  const kill = () => child.kill('SIGKILL');
  if (attempt % 4 === 3) timer = setTimeout(kill, Math.floor(Math.random() * timing.fromStartMs));
  else {
    child.stderr!.on('data', (d: Buffer) => {
      if (!timer && d.toString().includes('"type":"progress"')) timer = setTimeout(kill, Math.floor(Math.random() * timing.afterProgressMs));
    });
  }
  const run = await done;
  clearTimeout(timer);
  return run;
}
