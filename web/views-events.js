// Events (filtered by type and time, with their payload) and the catalog of event types.
import { h, when, jsonBlock } from './dom.js';
import { canWrite, request, session } from './api.js';
import { badge, facts, field, form, heading, input, link, pager, say, table, value } from './ui.js';

function isoOrEmpty(localValue) {
  return localValue ? new Date(localValue).toISOString() : '';
}

export async function eventsView() {
  const type = h('input', { type: 'text', name: 'type', placeholder: 'invoice.paid' });
  const since = h('input', { type: 'datetime-local', name: 'since' });
  const until = h('input', { type: 'datetime-local', name: 'until' });
  const columns = [
    { label: 'Event', cell: (e) => link(`#/events/${e.id}`, e.id), class: 'mono' },
    { label: 'Type', cell: (e) => e.type },
    { label: 'Deliveries', cell: (e) => String(e.delivery_count ?? '—'), class: 'num' },
    { label: 'Created', cell: (e) => when(e.created_at) },
  ];
  const list = pager('Events',
    (cursor) => request('GET', '/v1/events', {
      query: { type: type.value.trim(), since: isoOrEmpty(since.value), until: isoOrEmpty(until.value), cursor },
    }),
    (rows) => table('Events', columns, rows, 'No events match.'));
  const filters = form({ class: 'toolbar filters', role: 'search', 'aria-label': 'Filter events' },
    [field('Type', type), field('Since', since), field('Until', until)], 'Filter', () => list.first());
  return [heading('Events'), filters, list.el];
}

export async function eventView(ctx) {
  const e = await request('GET', `/v1/events/${encodeURIComponent(ctx.params[0])}`);
  const deliveries = e.deliveries || [];
  const columns = [
    { label: 'Delivery', cell: (d) => link(`#/deliveries/${d.id}`, d.id), class: 'mono' },
    { label: 'Endpoint', cell: (d) => (d.endpoint_id ? link(`#/endpoints/${d.endpoint_id}`, d.endpoint_id) : 'one-shot') },
    { label: 'Status', cell: (d) => badge(d.status) },
    { label: 'Attempts', cell: (d) => String(d.attempt_count), class: 'num' },
  ];
  return [
    h('p', null, link('#/events', '← Events')),
    heading(`Event ${e.id}`),
    facts([['Type', e.type], ['Created', when(e.created_at)]]),
    h('section', { 'aria-labelledby': 'payload-title' }, h('h2', { id: 'payload-title' }, 'Payload'),
      jsonBlock(e.payload, 'Payload')),
    h('section', { 'aria-labelledby': 'dlv-title' }, h('h2', { id: 'dlv-title' }, 'Deliveries'),
      table('Deliveries of this event', columns, deliveries, 'No deliveries.')),
  ];
}

export async function eventTypesView() {
  const columns = [
    { label: 'Name', cell: (t) => h('span', { class: 'mono' }, t.name) },
    { label: 'Description', cell: (t) => t.description || '—' },
    { label: 'Schema', cell: (t) => (t.schema ? 'yes' : '—') },
    { label: 'Created', cell: (t) => when(t.created_at) },
  ];
  const list = pager('Event types', (cursor) => request('GET', '/v1/event-types', { query: { cursor }, org: false }),
    (rows) => table('Event types', columns, rows, 'The catalog is empty.'));
  // the catalog is the installation's: only admin keys write it
  const create = session.isAdmin && canWrite(session)
    ? form({ class: 'card', 'aria-labelledby': 'new-type' }, [h('h2', { id: 'new-type' }, 'New event type'),
      input('Name', { name: 'name', required: true, placeholder: 'invoice.paid' }),
      input('Description', { name: 'description' })], 'Create event type', async (f) => {
      await request('POST', '/v1/event-types', { body: { name: value(f, 'name'), description: value(f, 'description') }, org: false });
      f.reset();
      say('Event type created');
      list.first();
    })
    : null;
  return [heading('Event types'), list.el, create];
}
