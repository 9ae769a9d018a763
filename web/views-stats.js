// An endpoint's charts: success rate and attempt latency over a window, from
// GET /v1/endpoints/{id}/stats?window=, drawn by chart.js.
import { h, replace } from './dom.js';
import { request } from './api.js';
import { select } from './ui.js';
import { legend, lineChart } from './chart.js';

const WINDOWS = [['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];

const percent = (v) => `${Math.round(v * 100)} %`;
const ms = (v) => (v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);

function show(stats) {
  const t = (p) => new Date(p.start);
  const rate = [{ name: 'Success rate', cls: 's-rate', points: stats.series.map((p) => ({ t: t(p), y: p.success_rate })) }];
  const latency = ['p50', 'p95', 'p99'].map((q) => ({
    name: q, cls: `s-${q}`, points: stats.series.map((p) => ({ t: t(p), y: p.latency_ms[q] })),
  }));
  const d = stats.deliveries;
  return [
    h('p', { class: 'totals' },
      `Delivered ${d.delivered}, failed ${d.failed}, exhausted ${d.exhausted}; success rate `,
      stats.success_rate === null ? '—' : percent(stats.success_rate),
      `; ${stats.attempts.total} attempts (${stats.attempts.failed} failed), latency p50 `,
      stats.latency_ms.p50 === null ? '—' : ms(stats.latency_ms.p50),
      ', p95 ', stats.latency_ms.p95 === null ? '—' : ms(stats.latency_ms.p95),
      ', p99 ', stats.latency_ms.p99 === null ? '—' : ms(stats.latency_ms.p99), '.'),
    h('div', { class: 'charts' },
      h('figure', null, lineChart(rate, { title: 'Success rate', yMax: 1, format: percent }),
        h('figcaption', null, legend(rate), `per ${stats.step_seconds / 60} minutes`)),
      h('figure', null, lineChart(latency, { title: 'Attempt latency', format: ms }),
        h('figcaption', null, legend(latency), `per ${stats.step_seconds / 60} minutes`))),
  ];
}

export function statsSection(endpointId) {
  const windowSel = select('Window', WINDOWS, '24h', { name: 'window' });
  const body = h('div', { class: 'stats-body' }, h('p', null, 'Loading…'));
  const load = async () => {
    try {
      const stats = await request('GET', `/v1/endpoints/${encodeURIComponent(endpointId)}/stats`,
        { query: { window: windowSel.querySelector('select').value } });
      replace(body, show(stats));
    } catch (err) {
      replace(body, h('p', { class: 'error' }, err.message));
    }
  };
  windowSel.querySelector('select').addEventListener('change', load);
  load();
  return h('section', { class: 'stats', 'aria-labelledby': 'stats-title' },
    h('h2', { id: 'stats-title' }, 'Success rate and latency'), h('div', { class: 'toolbar' }, windowSel), body);
}
