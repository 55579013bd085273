import { ConfigurationError } from './errors.js';

/** Parses a store URL, accepting the path forms `file:./data` and `sqlite:./x.db` as well as `file:///abs`. */
export function parseStoreUrl(raw: string): URL {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(raw)) {
    throw new ConfigurationError(
      `"${raw}" is not a store URL; write it as scheme:location, e.g. file:./data, sqlite:./app.db, postgres://host/db`,
    );
  }
  try {
    return new URL(raw);
  } catch (cause) {
    throw new ConfigurationError(`"${redactUrl(raw)}" is not a valid URL; check its spelling and percent-encode special characters`, { cause });
  }
}

/** The URL without its password, for messages and state. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * The filesystem path of a `file:` or `sqlite:` URL. `file:./x` and `sqlite:x.db` are relative to the
 * working directory; `file:///abs` and `sqlite:/abs` are absolute.
 */
export function pathOfUrl(url: URL, raw?: string): string {
  const text = raw ?? url.href;
  const rest = text.slice(text.indexOf(':') + 1);
  if (rest.startsWith('//')) return decodeURIComponent(url.pathname);
  const q = rest.indexOf('?');
  return decodeURIComponent(q >= 0 ? rest.slice(0, q) : rest);
}
