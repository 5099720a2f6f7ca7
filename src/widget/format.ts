/** Human-readable sizes and times for the download progress line. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MB`;
  return `${(n / 1073741824).toFixed(2)} GB`;
}

export function formatEta(seconds: number | null, unit: string): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.ceil(seconds)}${unit}`;
  const m = Math.floor(seconds / 60);
  return `${m}:${String(Math.ceil(seconds % 60)).padStart(2, '0')}`;
}

/** Links the citizen may follow to reach a person: web, e-mail or a phone number. */
export function safeHandoffUrl(url: string): string | null {
  const t = url.trim();
  if (!/^(https?:|mailto:|tel:)/i.test(t)) return null;
  try {
    return new URL(t).href;
  } catch {
    return null;
  }
}

/** `url` resolved against the page, as the model manager stores it. */
export function absoluteUrl(url: string): string {
  return new URL(url, location.href).href;
}
