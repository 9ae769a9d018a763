'use strict';
// A programmable webhook receiver for the pipeline tests: a node:http server on a free loopback
// port that records every request (method, url, headers, raw body bytes, arrival time) and
// answers according to a script.
//
//   const rx = await startReceiver();            // answers 200 to everything
//   rx.script = [503, 200];                      // then answers these, one per request, in order
//   rx.script = [{ status: 429, headers: { 'Retry-After': '1' } }, 200];
//   rx.handler = (req, rec) => ({ status: 200, delayMs: 200 });   // or a function
//   rx.url('/hook')                              // http://127.0.0.1:<port>/hook
//   await rx.waitFor((r) => r.length >= 2)       // polls the recorded deliveries
//   rx.deliveries()                              // recorded requests except the creation pings
//
// An answer is a number (status) or {status, headers, body, delayMs, hang, releaseOn}. `hang: true`
// never answers (the connection stays open until the receiver closes). `releaseOn` (a promise)
// holds the answer, counted in inFlight, until the promise settles (or delayMs passes, if
// also given, whichever comes first). Pings (X-Webhook-Event:
// webhook.ping) are answered by `pingAnswer` (default 200) and kept out of the script and of
// deliveries(), so that creating an endpoint does not consume the script.

const http = require('node:http');

function normalize(answer) {
  if (answer === undefined || answer === null) return { status: 200 };
  if (typeof answer === 'number') return { status: answer };
  return { status: 200, ...answer };
}

async function startReceiver(opts = {}) {
  const rx = {
    requests: [],
    script: opts.script ? [...opts.script] : [],
    handler: opts.handler || null,
    fallback: opts.fallback === undefined ? 200 : opts.fallback,
    pingAnswer: opts.pingAnswer === undefined ? 200 : opts.pingAnswer,
    port: null,
    base: null,
    inFlight: 0,
    maxInFlight: 0,
  };
  const sockets = new Set();
  const hanging = new Set();

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const rec = {
        method: req.method,
        url: req.url,
        headers: req.headers, // lower-case names
        rawHeaders: req.rawHeaders,
        body,
        text: body.toString('utf8'),
        at: Date.now(),
        isPing: req.headers['x-webhook-event'] === 'webhook.ping',
      };
      rx.requests.push(rec);
      let answer;
      if (rec.isPing) {
        answer = normalize(typeof rx.pingAnswer === 'function' ? rx.pingAnswer(rec) : rx.pingAnswer);
      } else if (rx.handler) {
        answer = normalize(await rx.handler(rec, rx));
      } else if (rx.script.length > 0) {
        answer = normalize(rx.script.shift());
      } else {
        answer = normalize(rx.fallback);
      }
      rec.answer = answer;
      if (answer.hang) {
        hanging.add(res);
        return;
      }
      rx.inFlight += 1;
      rx.maxInFlight = Math.max(rx.maxInFlight, rx.inFlight);
      let sent = false;
      const send = () => {
        if (sent) return;
        sent = true;
        rx.inFlight -= 1;
        rec.answeredAt = Date.now();
        if (res.destroyed) return;
        const payload = answer.body === undefined ? '' : String(answer.body);
        res.writeHead(answer.status, { 'Content-Type': 'text/plain', ...(answer.headers || {}) });
        res.end(payload);
      };
      if (answer.releaseOn) {
        const timer = answer.delayMs ? setTimeout(send, answer.delayMs) : null;
        const release = () => {
          if (timer) clearTimeout(timer);
          send();
        };
        Promise.resolve(answer.releaseOn).then(release, release);
      } else if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 30000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  rx.port = server.address().port;
  rx.base = `http://127.0.0.1:${rx.port}`;
  rx.url = (p = '/hook') => rx.base + p;
  rx.deliveries = () => rx.requests.filter((r) => !r.isPing);
  rx.pings = () => rx.requests.filter((r) => r.isPing);
  rx.waitFor = async (pred, { timeoutMs = 10000, intervalMs = 20, what = 'the receiver' } = {}) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = rx.deliveries();
      if (pred(list)) return list;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; got ${list.length} deliveries: ` +
            JSON.stringify(list.map((r) => [r.url, r.headers['x-webhook-event'], r.answer?.status]))
        );
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  // The deliveries to one path, once there are at least n of them.
  rx.waitForPath = async (p, n = 1, opts = {}) => {
    const list = await rx.waitFor((l) => l.filter((r) => r.url === p).length >= n, {
      what: `${n} deliveries to ${p}`,
      ...opts,
    });
    return list.filter((r) => r.url === p);
  };
  rx.close = async () => {
    for (const res of hanging) {
      try {
        res.destroy();
      } catch {
        /* gone */
      }
    }
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(() => resolve()));
  };
  return rx;
}

module.exports = { startReceiver };
