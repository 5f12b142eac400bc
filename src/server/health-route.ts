/**
 * GET /health for load balancers: 200 while the server takes connections, 503 once it is
 * stopping or draining (so new clients go elsewhere), with the node, the broker's state and
 * since when, and the open connections.
 */
import { Buffer } from 'node:buffer';
import type { App } from '../app/app.js';
import type { HttpRoute } from './http-routes.js';

export function healthRoute(app: Pick<App<unknown>, 'accepting' | 'nodeId' | 'connectionCount' | 'clusterStatus'>, path = '/health'): HttpRoute {
  return (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== path || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const broker = app.clusterStatus();
    const body = JSON.stringify({
      ok: app.accepting,
      node: app.nodeId,
      broker: { kind: broker.kind, state: broker.state, since: new Date(broker.since).toISOString(), ...(broker.lastError !== undefined ? { lastError: broker.lastError } : {}) },
      connections: app.connectionCount,
    });
    res.writeHead(app.accepting ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
