/**
 * Prometheus metrics of the dual store on a registry the caller may pass (default: a new one, so
 * two dual stores in one process never clash). Label children are cached, and the latency histogram
 * is a small array-backed metric of our own: prom-client hashes the label set on every observe,
 * which costs more than a read from an in-process backend and would show up on the request path.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Side } from './modes.js';

export interface DualMetricsOptions {
  registry?: Registry;
  /** Prefix of metric names. @default "cutover_dual_" */
  prefix?: string;
}

type Observer = { observe(value: number): void };

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
type Incrementer = { inc(value?: number): void };

export class DualMetrics {
  readonly registry: Registry;
  private readonly latency: FastHistogram;
  private readonly errors: Counter<'backend' | 'op'>;
  private readonly discrepancies: Counter<'op' | 'collection' | 'kind'>;
  private readonly routing: Counter<'op' | 'target'>;
  private readonly shadowSkipped: Counter<'reason'>;
  readonly divergencesPending: Gauge;
  private readonly children = new Map<string, Observer | Incrementer>();

  constructor(options: DualMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const p = options.prefix ?? 'cutover_dual_';
    const reuse = <T extends Metric>(name: string, make: () => T): T =>
      (this.registry.getSingleMetric(p + name) as T | undefined) ?? make();
    const registers = [this.registry];
    this.latency = reuse('operation_duration_seconds', () => {
      const h = new FastHistogram(p + 'operation_duration_seconds', 'Latency of operations on each backend of the dual store');
      this.registry.registerMetric(h as unknown as Metric);
      return h as unknown as Metric;
    }) as unknown as FastHistogram;
    this.errors = reuse('backend_errors_total', () => new Counter({
      name: p + 'backend_errors_total', help: 'Failed operations per backend', labelNames: ['backend', 'op'], registers,
    }));
    this.discrepancies = reuse('discrepancies_total', () => new Counter({
      name: p + 'discrepancies_total', help: 'Differences found between the old and new store',
      labelNames: ['op', 'collection', 'kind'], registers,
    }));
    this.routing = reuse('routing_decisions_total', () => new Counter({
      name: p + 'routing_decisions_total', help: 'Operations routed to each store', labelNames: ['op', 'target'], registers,
    }));
    this.shadowSkipped = reuse('shadow_skipped_total', () => new Counter({
      name: p + 'shadow_skipped_total', help: 'Shadow comparisons not made, by reason', labelNames: ['reason'], registers,
    }));
    this.divergencesPending = reuse('divergences_pending', () => new Gauge({
      name: p + 'divergences_pending', help: 'Keys whose write to the secondary store failed and await repair', registers,
    }));
  }

  private child<T extends Observer | Incrementer>(id: string, make: () => T): T {
    let c = this.children.get(id) as T | undefined;
    if (!c) {
      c = make();
      this.children.set(id, c);
    }
    return c;
  }

  observe(backend: Side, op: string, seconds: number): void {
    this.child(`l|${backend}|${op}`, () => this.latency.child({ backend, op })).observe(seconds);
  }

  error(backend: Side, op: string): void {
    this.child(`e|${backend}|${op}`, () => this.errors.labels(backend, op)).inc();
  }

  discrepancy(op: string, collection: string, kind: string): void {
    this.discrepancies.labels(op, collection, kind).inc();
  }

  routed(op: string, target: Side, n = 1): void {
    this.child(`r|${op}|${target}`, () => this.routing.labels(op, target)).inc(n);
  }

  skipped(reason: 'sampled-out' | 'saturated' | 'timeout' | 'in-flight-write' | 'error'): void {
    this.child(`s|${reason}`, () => this.shadowSkipped.labels(reason)).inc();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
