// How two load generators space their requests at the same average rate: autocannon's overallRate
// (per-connection one-second timers that start together) and the paced open loop. Arrival times
// recorded by a bare node:http server. Prints figures.   node_modules/.bin/node bench/arrivals.mjs
import http from 'node:http';
import { cannon, paced } from './lib/load.mjs';
const arrivals = [];
const server = http.createServer((req, res) => {
  arrivals.push(performance.now());
  req.resume();
  req.on('end', () => res.end('ok'));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/x`;
function shape(label) {
  const t0 = arrivals[0];
  const perWindow = new Map();
  for (const t of arrivals) {
    const w = Math.floor((t - t0) / 50);
    perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
  }
  const counts = [...perWindow.values()].sort((a, b) => b - a);
  const gaps = arrivals
    .slice(1)
    .map((t, i) => t - arrivals[i])
    .sort((a, b) => a - b);
  const busiest = counts[0];
  console.log(label, {
    requests: arrivals.length,
    spanS: ((arrivals.at(-1) - t0) / 1000).toFixed(2),
    busiest50msWindow: busiest,
    share_in_top_windows: (counts.slice(0, 5).reduce((a, b) => a + b, 0) / arrivals.length).toFixed(2),
    gapP50ms: gaps[Math.floor(gaps.length / 2)].toFixed(2),
    gapP99ms: gaps[Math.floor(gaps.length * 0.99)].toFixed(1),
  });
  arrivals.length = 0;
}
await cannon({ url, connections: 100, amount: 450, overallRate: 90, method: 'POST', body: '{}', maxSeconds: 20 });
shape('autocannon overallRate 90, 100 connections:');
await paced({ rate: 90, amount: 450, next: () => ({ url, headers: {}, body: '{}' }) });
shape('paced 90/s:');
server.close();
process.exit(0);
