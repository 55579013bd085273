/**
 * Flags from a JSON or YAML file, live. The folder is watched (a file replaced by rename, as editors
 * and `cutover route` do, keeps being seen), with a periodic stat as a fallback for file systems
 * where fs.watch is silent (network mounts, some containers). Changes are debounced so a file written
 * in several chunks is read once, whole.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigurationError } from '../core/errors.js';
import { FlagHolder, type FlagSourceOptions } from './flags.js';
import { parseFlags, type DualFlags, type DualFlagsInput } from './modes.js';

export interface FileFlagsOptions extends FlagSourceOptions {
  /** Wait this long after the last change event before reading. @default 50 */
  debounceMs?: number;
  /** Stat the file this often in case no watch event arrives. @default 1000 */
  pollMs?: number;
}

function isYaml(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.yaml' || ext === '.yml';
}

/** Reads and parses a flags file (not validated). */
export function readFlagsText(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return isYaml(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(`flags file ${path} is not valid ${isYaml(path) ? 'YAML' : 'JSON'} (${(err as Error).message}); fix the syntax`, { cause: err });
  }
}

/** Reads and validates a flags file; throws a ConfigurationError when missing or invalid. */
export function readFlagsFile(path: string): DualFlags {
  if (!existsSync(path)) {
    throw new ConfigurationError(`flags file ${path} does not exist; create it with \`cutover route --mode old-only --flags ${path}\``);
  }
  return parseFlags(readFlagsText(path), path);
}

/** Writes flags atomically (temp file + rename) so a watcher never reads half a file. */
export function writeFlagsFile(path: string, input: DualFlagsInput): DualFlags {
  const flags = parseFlags(input, 'the new flags');
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const text = isYaml(path) ? stringifyYaml(flags) : JSON.stringify(flags, null, 2) + '\n';
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return flags;
}

export class FileFlags extends FlagHolder {
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private lastStamp = '';
  private closed = false;

  constructor(readonly path: string, private readonly options: FileFlagsOptions = {}) {
    super(readFlagsFile(path), options.onError);
    this.lastStamp = this.stamp();
    const full = resolve(path);
    const name = basename(full);
    try {
      this.watcher = watch(dirname(full), { persistent: false }, (_event, file) => {
        if (file === null || file.toString() === name) this.schedule();
      });
      this.watcher.on('error', () => {
        // The poller keeps working without the watcher.
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
    this.poller = setInterval(() => {
      if (this.stamp() !== this.lastStamp) this.schedule();
    }, options.pollMs ?? 1000);
    this.poller.unref();
  }

  private stamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), this.options.debounceMs ?? 50);
    this.debounce.unref();
  }

  /** Reads the file now; returns whether the flags in it were accepted. */
  reload(): boolean {
    if (this.closed) return false;
    this.lastStamp = this.stamp();
    if (this.lastStamp === 'missing') {
      this.onError(new ConfigurationError(`flags file ${this.path} was removed; the previous flags stay in force until it is back`));
      return false;
    }
    let input: unknown;
    try {
      input = readFlagsText(this.path);
    } catch (err) {
      this.onError(err as Error);
      return false;
    }
    return this.offer(input, this.path);
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    await super.close();
  }
}

/** Watches a flags file; throws when it is missing or invalid at start. */
export function watchFlagsFile(path: string, options?: FileFlagsOptions): FileFlags {
  return new FileFlags(path, options);
}
