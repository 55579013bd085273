/**
 * A whole number with thousands separators, as `toLocaleString('en-US')` writes it, without loading
 * ICU's locale data (a quarter of a short command's start-up: ~25 ms).
 */
export function formatCount(n: number): string {
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes in binary units (1 KB = 1024 B), one decimal above bytes. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
