// Runs one command as a whole child process under GNU time (`/usr/bin/time -v`) and returns its wall
// time, CPU time and peak RSS as the kernel accounted them. Only the child (and what it waits for) is
// counted: a database server doing the work elsewhere is not in the RSS figure.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const TIME = '/usr/bin/time';
const KEEP_OUTPUT = 64 * 1024;

function parseClock(text) {
  // "h:mm:ss" or "m:ss.ss"
  const parts = text.trim().split(':').map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export function parseGnuTime(report) {
  const grab = (label) => {
    const line = report.split('\n').find((l) => l.trim().startsWith(label));
    return line ? line.slice(line.lastIndexOf(': ') + 2).trim() : undefined;
  };
  const wall = grab('Elapsed (wall clock) time');
  const rss = grab('Maximum resident set size (kbytes)');
  return {
    wallS: wall ? parseClock(wall) : NaN,
    userS: Number(grab('User time (seconds)')),
    sysS: Number(grab('System time (seconds)')),
    peakRssMB: rss ? Number(rss) / 1024 : NaN,
    exitStatus: Number(grab('Exit status') ?? NaN),
  };
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, echo?: boolean, timeoutS?: number }} [opts]
 */
export function measure(cmd, args, opts = {}) {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing: install it with "apt-get install -y time"`);
  const report = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME, ['-v', '-o', report, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout ends GNU time and the command together.
      detached: true,
    });
    let timedOut = false;
    const timer = opts.timeoutS
      ? setTimeout(() => { timedOut = true; try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, opts.timeoutS * 1000)
      : null;
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { if (out.length < KEEP_OUTPUT) out += d; if (opts.echo) process.stdout.write(d); });
    child.stderr.on('data', (d) => { if (err.length < KEEP_OUTPUT) err += d; if (opts.echo) process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      const ownWallS = Number(process.hrtime.bigint() - t0) / 1e9;
      let parsed;
      try {
        parsed = parseGnuTime(readFileSync(report, 'utf8'));
      } catch {
        // Killed on timeout: GNU time wrote no report; our own clock is all there is.
        parsed = { wallS: ownWallS, userS: NaN, sysS: NaN, peakRssMB: NaN, exitStatus: NaN };
      } finally {
        rmSync(report, { force: true });
      }
      resolve({ ...parsed, code: timedOut ? 'timeout' : code, timedOut, ownWallS, stdout: out, stderr: err, command: [cmd, ...args].join(' ') });
    });
  });
}

/** Throws with the child's output when it did not exit 0. */
export function assertOk(run, what) {
  if (run.code !== 0) {
    throw new Error(`${what} exited ${run.code}: ${run.command}\n--- stdout\n${run.stdout.slice(-4000)}\n--- stderr\n${run.stderr.slice(-4000)}`);
  }
  return run;
}
