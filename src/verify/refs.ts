/**
 * Referential integrity in the target (the seeds' check_refs): a config file declares references such
 * as `characters.value.campaignId -> campaigns`; every referring record's value at that path must name
 * a key that exists in the referenced collection. Bounded memory: the referring collection streams,
 * and referenced keys are looked up in batches with `getMany`.
 *
 * Config (YAML or JSON):
 *   references:
 *     - characters.value.campaignId -> campaigns
 *     - characters.value.itemIds[*] -> items       # every element of an array
 *     - { from: notes.value.author.id, to: users }
 */
import { readFile } from 'node:fs/promises';
import { ConfigurationError } from '../core/errors.js';
import type { Store } from '../core/store.js';
import { parseJsonTree, type JsonNode } from './diff-json.js';
import { readRecords } from './scan-reader.js';
import type { ReadMeter } from './tally.js';
import type { DanglingRef, DanglingRefs } from './types.js';

export interface Reference {
  collection: string;
  /** Path segments inside the value; `*` is every element of an array. */
  path: string[];
  /** The text as written, for the report. */
  text: string;
  refCollection: string;
}

export async function loadReferences(file: string): Promise<Reference[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigurationError(`cannot read the references file ${file}: ${(cause as Error).message}; check the --refs path`, { cause });
  }
  let doc: unknown;
  // Loaded here, not at the top: every `cutover verify` would pay for the YAML parser at start-up.
  const { parse: parseYaml } = await import('yaml');
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new ConfigurationError(`the references file ${file} is not valid YAML or JSON: ${(cause as Error).message}`, { cause });
  }
  const list = (doc as { references?: unknown } | null)?.references;
  if (!Array.isArray(list)) throw new ConfigurationError(`the references file ${file} must have a "references:" list, e.g. "- characters.value.campaignId -> campaigns"`);
  return list.map((item) => parseReference(item, file));
}

export function parseReference(item: unknown, file = 'references'): Reference {
  let from: string;
  let to: string;
  if (typeof item === 'string') {
    const m = /^\s*(.+?)\s*->\s*(\S+)\s*$/.exec(item);
    if (!m) throw new ConfigurationError(`reference "${item}" in ${file} must look like "characters.value.campaignId -> campaigns"`);
    from = m[1]!;
    to = m[2]!;
  } else if (item && typeof item === 'object' && typeof (item as { from?: unknown }).from === 'string' && typeof (item as { to?: unknown }).to === 'string') {
    from = (item as { from: string }).from;
    to = (item as { to: string }).to;
  } else {
    throw new ConfigurationError(`reference ${JSON.stringify(item)} in ${file} must be "collection.value.path -> collection" or { from, to }`);
  }
  const at = from.indexOf('.value');
  const rest = at >= 0 ? from.slice(at + '.value'.length) : null;
  if (at <= 0 || (rest !== '' && !rest!.startsWith('.') && !rest!.startsWith('['))) {
    throw new ConfigurationError(`reference "${from} -> ${to}" in ${file} must name a path in the value, e.g. "characters.value.campaignId"`);
  }
  const path = rest!.replace(/\[(\*|\d*)\]/g, (_, i: string) => `.${i === '' ? '*' : i}`).split('.').filter(Boolean);
  return { collection: from.slice(0, at), path, text: `${from} -> ${to}`, refCollection: to };
}

/** The referenced keys at `path` in a value; strings as they are, numbers as their JSON text. */
export function referencedKeys(value: string, path: string[]): string[] {
  let tree: JsonNode;
  try {
    tree = parseJsonTree(value);
  } catch {
    return [];
  }
  const out: string[] = [];
  const visit = (node: JsonNode | undefined, i: number) => {
    if (!node) return;
    if (i === path.length) {
      if (node.t === 'num') out.push(node.raw);
      else if (node.t === 'lit' && node.raw.startsWith('"')) out.push(JSON.parse(node.raw) as string);
      return; // null, booleans, objects: no reference
    }
    const seg = path[i]!;
    if (node.t === 'obj') visit(node.members.get(seg), i + 1);
    else if (node.t === 'arr') {
      if (seg === '*') for (const item of node.items) visit(item, i + 1);
      else if (/^\d+$/.test(seg)) visit(node.items[Number(seg)], i + 1);
    }
  };
  visit(tree, 0);
  return out;
}

export async function checkReferences(
  target: Store,
  references: Reference[],
  options: { examples: number; batchSize: number; meter: (collection: string) => ReadMeter; signal?: AbortSignal | undefined },
): Promise<DanglingRefs> {
  const result: DanglingRefs = { checked: 0, dangling: 0, examples: [] };
  for (const ref of references) {
    const pathText = ref.path.join('.');
    let pending = new Map<string, string[]>(); // referenced key -> referring keys
    let referrers = 0;
    const flush = async () => {
      if (pending.size === 0) return;
      const keys = [...pending.keys()];
      const found = await target.getMany(ref.refCollection, keys);
      await options.meter(ref.refCollection).took(found);
      keys.forEach((k, i) => {
        if (found[i]) return;
        for (const referrer of pending.get(k)!) {
          result.dangling++;
          if (result.examples.length < options.examples) {
            const example: DanglingRef = { collection: ref.collection, key: referrer, path: pathText, ref: k, refCollection: ref.refCollection };
            result.examples.push(example);
          }
        }
      });
      pending = new Map();
      referrers = 0;
    };
    for await (const record of readRecords(target, ref.collection, options.meter(ref.collection), { batchSize: options.batchSize, signal: options.signal })) {
      if (typeof record.value !== 'string') continue;
      for (const k of referencedKeys(record.value, ref.path)) {
        result.checked++;
        const list = pending.get(k);
        if (list) list.push(record.key);
        else pending.set(k, [record.key]);
        referrers++;
      }
      if (pending.size >= 500 || referrers >= 5000) await flush();
    }
    await flush();
  }
  return result;
}
