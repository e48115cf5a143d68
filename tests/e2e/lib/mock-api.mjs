// A stand-in for the CoUp Next.js API that coup-gateway calls (contract §2,
// §3), on 127.0.0.1: every user is ACTIVE, every user is a member. Tests
// that are not about authentication use it so that a connection with a
// userId is accepted whatever NODE_ENV says.

import http from 'node:http';
import { HOST } from './server.mjs';

export async function startMockApi() {
  const calls = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      if (body.length < 100000) body += c;
    });
    req.on('end', () => {
      let json = null;
      try {
        json = body ? JSON.parse(body) : null;
      } catch {
        json = null;
      }
      calls.push({ method: req.method, url: req.url, headers: req.headers, body: json });
      res.setHeader('Content-Type', 'application/json');
      if (req.method === 'POST' && req.url === '/api/auth/verify' && json && json.userId !== undefined) {
        const id = String(json.userId);
        res.end(JSON.stringify({ success: true, user: { id, name: `User ${id}`, email: `${id}@example.test`, avatar: null, status: 'ACTIVE' } }));
        return;
      }
      if (req.method === 'POST' && /^\/api\/studies\/[^/]+\/check-member$/.test(req.url)) {
        res.end(JSON.stringify({ success: true }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
    });
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, HOST, resolve);
  });
  const { port } = srv.address();
  return {
    url: `http://${HOST}:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections?.();
        srv.close(() => resolve());
      }),
  };
}
