import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics; one registry per app so tests can run several apps in one process. */
/** What the live gateway counts for the gauges. */
export interface LiveCounts {
  sockets: number;
  subscriptions: Record<'run' | 'artifact' | 'share' | 'runs', number>;
}

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** The `/live` stream: what it holds now comes from `liveState`, read at each scrape. */
  readonly live = {
    deliveries: new Counter({ name: 'live_deliveries_total', help: 'Messages sent to /live sockets, by event', labelNames: ['event'] as const, registers: [this.registry] }),
    disconnects: new Counter({ name: 'live_disconnects_total', help: '/live sockets disconnected, by reason (too_slow: past VITRINE_LIVE_SOCKET_BUFFER; credential_expired: its session or token expired)', labelNames: ['reason'] as const, registers: [this.registry] }),
    replayed: new Counter({ name: 'live_replayed_events_total', help: 'Run events sent to /live sockets from the database: replays after a subscribe, and gap fills', labelNames: ['source'] as const, registers: [this.registry] }),
  };
  /** Sockets and subscriptions, read from `liveState` at each scrape. */
  readonly liveGauges: Gauge[];
  private liveState: () => LiveCounts = () => ({ sockets: 0, subscriptions: { run: 0, artifact: 0, share: 0, runs: 0 } });

  constructor() {
    const state = () => this.liveState();
    const sockets = new Gauge({
      name: 'live_sockets',
      help: 'Sockets connected to /live on this instance',
      registers: [this.registry],
      collect() {
        this.set(state().sockets);
      },
    });
    const subscriptions = new Gauge({
      name: 'live_subscriptions',
      help: 'Subscriptions held by /live sockets on this instance, by kind',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        for (const [kind, n] of Object.entries(state().subscriptions)) this.set({ kind }, n);
      },
    });
    this.liveGauges = [sockets, subscriptions];
    collectDefaultMetrics({ register: this.registry });
  }

  /** The live gateway says how to count its sockets and subscriptions when scraped. */
  countLive(state: () => LiveCounts): void {
    this.liveState = state;
  }

  /** Times the request from now until its response is sent, labelled with its route template, not its URL. */
  observe(request: Request, response: Response): void {
    const end = this.httpDuration.startTimer();
    response.once('finish', () => {
      const route = request.route?.path ? `${request.baseUrl}${String(request.route.path)}` : 'unmatched';
      end({ method: request.method, route, status: String(response.statusCode) });
    });
  }
}
