// Deliveries: an endpoint's delivery log (cursor-paged, filtered by status) and one delivery
// with its attempts (request headers, response status, latency, body) and a retry button.
import { h, when, jsonBlock } from './dom.js';
import { request, session } from './api.js';
import { badge, button, facts, headerList, heading, link, pager, say, select, table, writeButton } from './ui.js';

const STATUSES = ['pending', 'in_flight', 'delivered', 'failed', 'exhausted'];

/** The delivery log at path (GET, cursor-paged), one page at a time: {el, reload}. */
export function deliveryLog(path, query = {}) {
  const filter = select('Status', [['', 'Any status'], ...STATUSES.map((st) => [st, st])], '',
    { name: 'status' });
  const columns = [
    { label: 'Delivery', cell: (d) => link(`#/deliveries/${d.id}`, d.id), class: 'mono' },
    { label: 'Status', cell: (d) => badge(d.status) },
    { label: 'Event type', cell: (d) => d.event_type },
    { label: 'Attempts', cell: (d) => String(d.attempt_count), class: 'num' },
    { label: 'Last response', cell: (d) => d.last_response_status ?? d.last_error ?? '—' },
    { label: 'Created', cell: (d) => when(d.created_at) },
  ];
  const control = filter.querySelector('select');
  const log = pager('Deliveries',
    (cursor) => request('GET', path, { query: { ...query, status: control.value, cursor } }),
    (rows) => table('Deliveries', columns, rows, 'No deliveries.'));
  control.addEventListener('change', () => log.first());
  const el = h('section', { class: 'log', 'aria-labelledby': 'log-title' },
    h('h2', { id: 'log-title' }, 'Delivery log'),
    h('div', { class: 'toolbar' }, filter, button('Refresh', () => log.reload())),
    log.el);
  return { el, reload: () => log.first() };
}

function attemptView(a) {
  const outcome = a.response_status !== null ? `HTTP ${a.response_status}` : a.error || 'no response';
  return h('details', { class: 'attempt' },
    h('summary', null, `Attempt ${a.n}: ${outcome}, ${a.duration_ms} ms, ${when(a.started_at)}`),
    h('h4', null, 'Request headers'), headerList(a.request_headers),
    h('h4', null, 'Response headers'), headerList(a.response_headers),
    h('h4', null, 'Response body'),
    a.response_body === null || a.response_body === ''
      ? h('p', { class: 'empty' }, 'Empty.')
      : h('pre', { class: 'code response-body', tabindex: 0, 'aria-label': `Response body of attempt ${a.n}` },
        a.response_body));
}

export async function deliveryView(ctx) {
  const id = ctx.params[0];
  const d = await request('GET', `/v1/deliveries/${encodeURIComponent(id)}`);
  const attempts = h('div', { class: 'attempts' }, d.attempts.map(attemptView));
  const retry = writeButton('Retry delivery', async () => {
    await request('POST', `/v1/deliveries/${encodeURIComponent(id)}/retry`, { body: {} });
    say('Delivery queued again');
    await ctx.refresh();
  });
  if (retry && !['failed', 'exhausted'].includes(d.status)) retry.disabled = true;
  return [
    heading(`Delivery ${d.id}`),
    h('p', null, d.endpoint_id ? link(`#/endpoints/${d.endpoint_id}`, '← Endpoint') : 'One-shot webhook',
      session.mode === 'portal' ? null : [' · ', link(`#/events/${d.event_id}`, 'Event')]), // no events page in the portal
    facts([
      ['Status', badge(d.status)],
      ['Event type', d.event_type],
      ['Attempts', String(d.attempt_count)],
      ['Last response', String(d.last_response_status ?? d.last_error ?? '—')],
      ['Next attempt', when(d.next_attempt_at)],
      ['Created', when(d.created_at)],
      ['Delivered', when(d.delivered_at)],
    ]),
    h('div', { class: 'actions' }, retry, button('Refresh', () => ctx.refresh())),
    h('section', { 'aria-labelledby': 'attempts-title' },
      h('h2', { id: 'attempts-title' }, `Attempts (${d.attempts.length})`),
      d.attempts.length ? attempts : h('p', { class: 'empty' }, 'No attempt yet.')),
    h('section', { 'aria-labelledby': 'payload-title' },
      h('h2', { id: 'payload-title' }, 'Payload'), jsonBlock(d.payload, 'Payload')),
  ];
}
