/**
 * What every request goes through in a worker, around the app's route: the drain's
 * `Connection: close`, request metrics (scrapes excepted), the access log and the max_requests
 * count.
 */
import type { Server } from 'bun';
import type { AppRoute } from '../http/native-route.ts';
import { badTargetReply, requestUrl } from '../http/request-target.ts';
import { accessLine, type Logger } from '../log/logger.ts';
import type { WorkerMetrics } from '../metrics/registry.ts';
import type { Drain } from './drain.ts';
import type { RequestLimit } from './policy.ts';

export interface RequestDeps {
  log: Logger;
  metrics: WorkerMetrics;
  drain: Drain;
  limit: RequestLimit;
  /** the request that reached max_requests has been answered */
  onLimit: () => void;
}

export function wrapRoute(deps: RequestDeps) {
  const { log, metrics, drain, limit } = deps;
  return (route: AppRoute) => async (request: Request, server: Server<undefined>) => {
    const started = performance.now();
    drain.seen(started);
    limit.count();
    const url = requestUrl(request);
    if (!url) return drain.mark(badTargetReply(request));
    let response: Response;
    if (url.pathname === '/metrics' && request.method === 'GET') {
      // scrapes are not counted in the request metrics (the app's route calls metricsResponse)
      response = await route(request, url);
    } else {
      const measured = metrics.begin(request, url.pathname);
      try {
        response = await route(measured.request, url);
      } catch (e) {
        measured.finish(null);
        throw e;
      }
      measured.finish(response);
    }
    if (log.accessEnabled) {
      log.access(
        accessLine({
          remote: server.requestIP(request)?.address ?? '-',
          method: request.method,
          path: url.pathname + url.search,
          status: response.status,
          bytes: response.headers.has('content-length') ? Number(response.headers.get('content-length')) : null,
          durationMs: performance.now() - started,
          dockerSize: response.headers.get('x-docker-size'),
          userAgent: request.headers.get('user-agent'),
        }),
      );
    }
    if (limit.reached()) deps.onLimit();
    return drain.mark(response);
  };
}
