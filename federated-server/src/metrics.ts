/**
 * Prometheus text exposition (format 0.0.4), hand-written: a few counters, gauges and one
 * summary are all the server needs, and this avoids a dependency with global state.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return '';
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(',')}}`;
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (!this.values.size) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

export class Summary {
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  observe(v: number): void {
    this.sum += v;
    this.count++;
  }
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} summary`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ].join('\n');
  }
}

export class Metrics {
  readonly httpRequests = new Counter(
    'dure_http_requests_total',
    'HTTP requests by method, route and status.',
  );
  readonly updatesAccepted = new Counter('dure_updates_accepted_total', 'Updates accepted into a round.');
  readonly updatesRejected = new Counter('dure_updates_rejected_total', 'Updates refused, by reason code.');
  readonly rounds = new Counter('dure_rounds_total', 'Rounds finished, by outcome (closed or failed).');
  readonly aggregationSeconds = new Summary('dure_aggregation_seconds', 'Time to aggregate a round.');

  /** The exposition text; `gauges` are sampled by the caller at scrape time. */
  render(gauges: { name: string; help: string; values: { labels?: Labels; value: number }[] }[]): string {
    const parts = [
      this.httpRequests,
      this.updatesAccepted,
      this.updatesRejected,
      this.rounds,
      this.aggregationSeconds,
    ].map((m) => m.render());
    for (const g of gauges) {
      parts.push(
        [
          `# HELP ${g.name} ${g.help}`,
          `# TYPE ${g.name} gauge`,
          ...g.values.map((v) => `${g.name}${labelKey(v.labels ?? {})} ${v.value}`),
        ].join('\n'),
      );
    }
    return parts.join('\n') + '\n';
  }
}
