// Inbound sources: the list (and a new source, its secret shown once), one source with the
// messages received on it and their verdicts, and one message with its headers and body.
import { h, replace, when } from './dom.js';
import { canWrite, request, session } from './api.js';
import {
  badge, facts, form, headerList, heading, input, link, pager, say, secretBox, select, table, value,
} from './ui.js';

const SCHEMES = ['standard', 'hookd', 'github', 'stripe', 'shopify', 'none'];
const enc = encodeURIComponent;

export async function sourcesView() {
  const created = h('div', { class: 'created' });
  const columns = [
    { label: 'Source', cell: (src) => link(`#/sources/${src.id}`, src.name) },
    { label: 'Verification', cell: (src) => src.verification.scheme },
    { label: 'State', cell: (src) => (src.is_active ? badge('active') : badge('disabled')) },
    { label: 'Ingest URL', cell: (src) => src.ingest_url, class: 'mono' },
    { label: 'Created', cell: (src) => when(src.created_at) },
  ];
  const list = pager('Sources', (cursor) => request('GET', '/v1/sources', { query: { cursor } }),
    (rows) => table('Sources', columns, rows, 'No sources yet.'));
  const create = canWrite(session)
    ? form({ class: 'card', 'aria-labelledby': 'new-src' }, [h('h2', { id: 'new-src' }, 'New source'),
      input('Name', { name: 'name', required: true }),
      select('Verification', SCHEMES.map((sc) => [sc, sc]), 'standard', { name: 'scheme' }),
      input('Event type', { name: 'event_type' }, 'Empty: from the sender\'s header or the payload\'s type')],
    'Create source', async (f) => {
      const body = { name: value(f, 'name'), verification: { scheme: value(f, 'scheme') } };
      if (value(f, 'event_type')) body.event_type = value(f, 'event_type');
      const src = await request('POST', '/v1/sources', { body });
      replace(created, secretBox(`Secret of ${src.name}`, src.secret),
        h('p', null, 'Senders post to ', h('code', null, src.ingest_url), '. ', link(`#/sources/${src.id}`, `Open ${src.name}`)));
      f.reset();
      say('Source created');
      list.first();
    })
    : null;
  return [heading('Inbound sources'), created, list.el, create];
}

export async function sourceView(ctx) {
  const src = await request('GET', `/v1/sources/${enc(ctx.params[0])}`);
  const status = select('Verdict', [['', 'Any verdict'], ['accepted', 'accepted'], ['duplicate', 'duplicate'], ['rejected', 'rejected']],
    '', { name: 'status' });
  const columns = [
    { label: 'Message', cell: (m) => link(`#/inbound/${m.id}`, m.id), class: 'mono' },
    { label: 'Verdict', cell: (m) => badge(m.status) },
    { label: 'Reason', cell: (m) => m.reason || '—' },
    { label: 'HTTP', cell: (m) => String(m.http_status), class: 'num' },
    { label: 'Event', cell: (m) => (m.event_id ? link(`#/events/${m.event_id}`, m.event_id) : '—') },
    { label: 'Received', cell: (m) => when(m.created_at) },
  ];
  const messages = pager('Messages',
    (cursor) => request('GET', `/v1/sources/${enc(src.id)}/messages`, { query: { status: status.querySelector('select').value, cursor } }),
    (rows) => table('Messages', columns, rows, 'No messages received.'));
  status.querySelector('select').addEventListener('change', () => messages.first());
  return [
    h('p', null, link('#/sources', '← Sources')),
    heading(src.name),
    facts([
      ['Id', h('code', null, src.id)],
      ['Ingest URL', h('code', null, src.ingest_url)],
      ['Verification', src.verification.scheme],
      ['Event type', src.event_type || 'from the sender'],
      ['Forward', src.forward ? 'yes' : 'no'],
      ['Tolerance', `${src.tolerance_seconds} s`],
    ]),
    h('section', { 'aria-labelledby': 'msg-title' }, h('h2', { id: 'msg-title' }, 'Messages'),
      h('div', { class: 'toolbar' }, status), messages.el),
  ];
}

export async function inboundView(ctx) {
  const m = await request('GET', `/v1/inbound/${enc(ctx.params[0])}`);
  return [
    h('p', null, link(`#/sources/${m.source_id}`, '← Source')),
    heading(`Message ${m.id}`),
    facts([
      ['Verdict', badge(m.status)],
      ['Reason', m.reason || '—'],
      ['HTTP status', String(m.http_status)],
      ['Event', m.event_id ? link(`#/events/${m.event_id}`, m.event_id) : '—'],
      ['Received', when(m.created_at)],
    ]),
    h('h2', null, 'Headers'), headerList(m.headers),
    h('h2', null, `Body${m.body_truncated ? ' (truncated)' : ''}`),
    h('pre', { class: 'code', tabindex: 0, 'aria-label': 'Body' }, m.body || ''),
  ];
}
