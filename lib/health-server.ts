import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export type DependencyCheck = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  dependencies: Record<string, { ready: boolean; error?: string; latencyMs: number }>;
}

/** Runs every named check concurrently with a timeout; a check is ready when it resolves. */
export async function checkReadiness(
  checks: Record<string, DependencyCheck>,
  timeoutMs = 2000,
): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { ready: true, latencyMs: Date.now() - started }] as const;
      } catch (err) {
        return [name, { ready: false, error: err instanceof Error ? err.message : String(err), latencyMs: Date.now() - started }] as const;
      } finally {
        if (timer) clearTimeout(timer);
      }
    }),
  );
  const dependencies = Object.fromEntries(entries);
  return { ready: entries.every(([, r]) => r.ready), dependencies };
}

export interface HealthHandlers {
  registry: Registry;
  checks: Record<string, DependencyCheck>;
  /**
   * Dependencies some requests need but the core path does not (e.g. the API's cache reads work without a worker):
   * a failing one is listed under `degraded` in the /readyz body while the status stays 200.
   */
  degradedChecks?: Record<string, DependencyCheck>;
  /** False once shutdown starts, so load balancers stop sending work before we drain. */
  isAccepting: () => boolean;
  /** The /metrics text when it is not just `registry`'s (an API process under the cluster answers for all copies). */
  metricsText?: () => Promise<string>;
}

/**
 * Serves /healthz (process alive), /readyz (dependencies reachable and not draining) and /metrics.
 * Returns true when it handled the request.
 */
export async function handleHealthRequest(req: IncomingMessage, res: ServerResponse, h: HealthHandlers): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return true;
  }
  if (path === '/readyz') {
    const [report, optional] = await Promise.all([checkReadiness(h.checks), checkReadiness(h.degradedChecks ?? {})]);
    const accepting = h.isAccepting();
    const degraded = Object.entries(optional.dependencies).filter(([, d]) => !d.ready).map(([name]) => name);
    const ready = report.ready && accepting;
    sendJson(res, ready ? 200 : 503, {
      ...report,
      dependencies: { ...report.dependencies, ...optional.dependencies },
      ready,
      // A load balancer (or a person with curl) reads why: the process is shutting down, not a dependency down.
      status: !accepting ? 'draining' : !ready ? 'unavailable' : degraded.length > 0 ? 'degraded' : 'ok',
      degraded,
      draining: !accepting,
    });
    return true;
  }
  if (path === '/metrics') {
    const text = await (h.metricsText ?? (() => h.registry.metrics()))();
    res.writeHead(200, { 'content-type': h.registry.contentType });
    res.end(text);
    return true;
  }
  return false;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** A standalone health/metrics server (used by workers, which serve no other HTTP). */
export function createHealthServer(h: HealthHandlers): Server {
  return createServer((req, res) => {
    handleHealthRequest(req, res, h)
      .then((handled) => {
        if (!handled) sendJson(res, 404, { error: 'not found' });
      })
      .catch((err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : 'internal error' }));
  });
}
