/**
 * Prometheus metrics of the dual store on a registry the caller may pass (default: a new one, so
 * two dual stores in one process never clash). The metrics touched on every operation (latency
 * histogram, routing and shadow-skip counters) are small array-backed metrics of our own, observed
 * through cells the dual store binds once: prom-client hashes the label set on every observe or
 * inc (~0.2 µs, 4% of a SQLite read), which would show up on the request path. They are registered
 * on the registry in prom-client's metric shape, so the exposition text is the same.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Side } from './modes.js';

export interface DualMetricsOptions {
  registry?: Registry;
  /** Prefix of metric names. @default "cutover_dual_" */
  prefix?: string;
}

export type Observer = { observe(value: number): void };

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

class Series implements Observer {
  readonly counts = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  count = 0;
  constructor(readonly labels: Record<string, string>) {}
  observe(value: number): void {
    let i = 0;
    while (i < BUCKETS.length && value > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram in prom-client's metric shape (registry.registerMetric), observed without hashing. */
class FastHistogram {
  readonly series: Series[] = [];
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string) {}

  child(labels: Record<string, string>): Series {
    const id = JSON.stringify(labels);
    const existing = this.series.find((x) => JSON.stringify(x.labels) === id);
    if (existing) return existing;
    const s = new Series(labels);
    this.series.push(s);
    return s;
  }

  reset(): void {
    for (const s of this.series) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  async get() {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const s of this.series) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
export type Incrementer = { inc(value?: number): void };

/** One label set of a FastCounter. */
export class CounterCell implements Incrementer {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(n = 1): void {
    this.value += n;
  }
}

/** A counter in prom-client's metric shape, incremented without hashing (see the module note). */
class FastCounter {
  readonly cells: CounterCell[] = [];
  readonly type = 'counter';
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string) {}

  child(labels: Record<string, string>): CounterCell {
    const id = JSON.stringify(labels);
    const existing = this.cells.find((x) => JSON.stringify(x.labels) === id);
    if (existing) return existing;
    const c = new CounterCell(labels);
    this.cells.push(c);
    return c;
  }

  reset(): void {
    for (const c of this.cells) c.value = 0;
  }

  async get() {
    return {
      name: this.name, help: this.help, type: this.type, aggregator: this.aggregator,
      values: this.cells.map((c) => ({ value: c.value, labels: c.labels })),
    };
  }
}

export class DualMetrics {
  readonly registry: Registry;
  private readonly latency: FastHistogram;
  private readonly errors: Counter<'backend' | 'op'>;
  private readonly discrepancies: Counter<'op' | 'collection' | 'kind'>;
  private readonly routing: FastCounter;
  private readonly shadowSkipped: FastCounter;
  readonly divergencesPending: Gauge;

  constructor(options: DualMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const p = options.prefix ?? 'cutover_dual_';
    const reuse = <T extends Metric>(name: string, make: () => T): T =>
      (this.registry.getSingleMetric(p + name) as T | undefined) ?? make();
    const registers = [this.registry];
    const own = <T>(make: () => T): Metric => {
      const m = make();
      this.registry.registerMetric(m as unknown as Metric);
      return m as unknown as Metric;
    };
    this.latency = reuse('operation_duration_seconds', () =>
      own(() => new FastHistogram(p + 'operation_duration_seconds', 'Latency of operations on each backend of the dual store'))) as unknown as FastHistogram;
    this.errors = reuse('backend_errors_total', () => new Counter({
      name: p + 'backend_errors_total', help: 'Failed operations per backend', labelNames: ['backend', 'op'], registers,
    }));
    this.discrepancies = reuse('discrepancies_total', () => new Counter({
      name: p + 'discrepancies_total', help: 'Differences found between the old and new store',
      labelNames: ['op', 'collection', 'kind'], registers,
    }));
    this.routing = reuse('routing_decisions_total', () =>
      own(() => new FastCounter(p + 'routing_decisions_total', 'Operations routed to each store'))) as unknown as FastCounter;
    this.shadowSkipped = reuse('shadow_skipped_total', () =>
      own(() => new FastCounter(p + 'shadow_skipped_total', 'Shadow comparisons not made, by reason'))) as unknown as FastCounter;
    this.divergencesPending = reuse('divergences_pending', () => new Gauge({
      name: p + 'divergences_pending', help: 'Keys whose write to the secondary store failed and await repair', registers,
    }));
  }

  /** Cells by kind, then by label values joined: constant strings, so the lookups hash nothing new. */
  private cell<T>(kind: Map<string, Map<string, T>>, a: string, b: string, make: () => T): T {
    let byA = kind.get(a);
    if (!byA) kind.set(a, (byA = new Map()));
    let c = byA.get(b);
    if (!c) byA.set(b, (c = make()));
    return c;
  }

  private readonly latencyCells = new Map<string, Map<string, Observer>>();
  private readonly routingCells = new Map<string, Map<string, Incrementer>>();
  private readonly errorCells = new Map<string, Map<string, Incrementer>>();
  private readonly skippedCells = new Map<string, Incrementer>();

  /** The latency series of one backend and op, to keep and observe without a lookup. */
  latencyOf(backend: Side, op: string): Observer {
    return this.cell(this.latencyCells, backend, op, () => this.latency.child({ backend, op }));
  }

  /** The routing counter of one op and target, to keep and increment without a lookup. */
  routingOf(op: string, target: Side): Incrementer {
    return this.cell(this.routingCells, op, target, () => this.routing.child({ op, target }));
  }

  observe(backend: Side, op: string, seconds: number): void {
    this.latencyOf(backend, op).observe(seconds);
  }

  error(backend: Side, op: string): void {
    this.cell(this.errorCells, backend, op, () => this.errors.labels(backend, op)).inc();
  }

  discrepancy(op: string, collection: string, kind: string): void {
    this.discrepancies.labels(op, collection, kind).inc();
  }

  routed(op: string, target: Side, n = 1): void {
    this.routingOf(op, target).inc(n);
  }

  skipped(reason: 'sampled-out' | 'saturated' | 'timeout' | 'in-flight-write' | 'error'): void {
    let c = this.skippedCells.get(reason);
    if (!c) this.skippedCells.set(reason, (c = this.shadowSkipped.child({ reason })));
    c.inc();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
