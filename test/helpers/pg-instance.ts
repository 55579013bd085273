/**
 * A private PostgreSQL server for tests that stop or restart it (the shared one on 5432 must stay up
 * for the other test files): initdb into a temp folder with the installed binaries, a free port, trust
 * auth, the unix socket inside the folder. initdb and postgres refuse to run as root, so as root they
 * run as the `postgres` OS user through runuser.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

/** The bin folder of the newest installed PostgreSQL, or null with the reason. */
export function findPgBin(): { bin: string } | { missing: string } {
  const versions = existsSync(ROOT) ? readdirSync(ROOT).filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) {
    return { missing: `no PostgreSQL server binaries (initdb, pg_ctl) under ${ROOT}/*/bin; install the postgresql package to run this test` };
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return { bin: join(ROOT, versions[0]!, 'bin') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface PgInstance {
  port: number;
  dir: string;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m <mode>`: fast ends sessions cleanly; immediate is a crash (recovery on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl restart -m fast`. */
  restart(): Promise<void>;
  /** Stops the server (if running) and removes its folder. */
  destroy(): Promise<void>;
  log(): string;
}

export async function startPrivatePostgres(): Promise<PgInstance> {
  const found = findPgBin();
  if ('missing' in found) throw new Error(`[cutover tests] ${found.missing}`);
  const { bin } = found;
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'cutover-pg-private-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  const logFile = join(dir, 'server.log');
  mkdirSync(sock);
  if (asRoot) {
    const { uid, gid } = await pgUser();
    for (const p of [dir, sock]) chownSync(p, uid, gid);
  }
  const exec = async (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    try {
      return await run(cmd, argv, { timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`[cutover tests] ${tool} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}\n${log}`);
    }
  };
  await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40`;
  const instance: PgInstance = {
    port,
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await exec('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '120', '-o', options, 'start']);
    },
    async stop(mode = 'fast') {
      await exec('pg_ctl', ['-D', data, '-w', '-t', '120', '-m', mode, 'stop']);
    },
    async restart() {
      await exec('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '120', '-m', 'fast', '-o', options, 'restart']);
    },
    async destroy() {
      if (existsSync(join(data, 'postmaster.pid'))) await instance.stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    },
  };
  try {
    await instance.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return instance;
}

async function pgUser(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error('[cutover tests] there is no "postgres" OS user to run initdb as (it refuses root); create one or run the tests as a normal user');
  });
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
