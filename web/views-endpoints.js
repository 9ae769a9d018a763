// Endpoints: the list (active / disabled), create (the secret shown once), and one endpoint:
// edit, enable/disable, rotate secret, test, replay, delete, its charts and its delivery log.
import { h, replace, when } from './dom.js';
import { canCreateEndpoints, canWrite, request, session } from './api.js';
import {
  badge, confirmAction, facts, field, form, heading, input, link, pager, say, secretBox, select,
  table, value, writeButton,
} from './ui.js';
import { deliveryLog } from './views-deliveries.js';
import { statsSection } from './views-stats.js';

const enc = encodeURIComponent;

function stateBadge(ep) {
  return ep.is_active ? badge('active') : badge(`disabled${ep.disabled_reason ? `: ${ep.disabled_reason}` : ''}`, 'disabled');
}

function eventsText(list) {
  return list.length ? list.join(', ') : 'all events';
}

function splitList(text) {
  return text.split(',').map((t) => t.trim()).filter(Boolean);
}

/** The fields of create and edit, filled from ep. */
function endpointFields(ep = {}) {
  return [
    input('URL', { name: 'url', type: 'url', required: true, value: ep.url || '', autocomplete: 'off' }),
    input('Name', { name: 'name', value: ep.name || '', maxlength: 100 }),
    input('Description', { name: 'description', value: ep.description || '', maxlength: 500 }),
    input('Events', { name: 'events', value: (ep.events || []).join(', ') },
      'Comma-separated event types or prefix.* patterns; empty for all events'),
    select('Signature scheme', [['standard', 'standard (Standard Webhooks)'], ['hex', 'hex (X-Webhook-Signature)']],
      ep.signature_scheme || 'standard', { name: 'signature_scheme' }),
    input('Timeout (seconds)', { name: 'timeout_seconds', type: 'number', min: 1, max: 60, value: ep.timeout_seconds || 15 }),
    field('Filter (JSON)', h('textarea', { name: 'filter', rows: 3, class: 'mono', spellcheck: 'false' },
      ep.filter ? JSON.stringify(ep.filter) : ''),
    'Only events whose envelope matches, e.g. {"data.amount": {"$gte": 100}}; empty for every event'),
  ];
}

/** The filter textarea's JSON; empty is null (no filter). Faults in it are the API's to name. */
function filterValue(f) {
  const text = value(f, 'filter');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Filter (JSON) is not valid JSON: ${err.message}`);
  }
}

function endpointBody(f) {
  return {
    url: value(f, 'url'),
    name: value(f, 'name'),
    description: value(f, 'description'),
    events: splitList(value(f, 'events')),
    signature_scheme: value(f, 'signature_scheme'),
    timeout_seconds: Number(value(f, 'timeout_seconds')),
    filter: filterValue(f),
  };
}

export async function endpointsView() {
  const created = h('div', { class: 'created' });
  const filter = select('Show', [['', 'All endpoints'], ['true', 'Active'], ['false', 'Disabled']], '',
    { name: 'is_active' });
  const columns = [
    { label: 'Endpoint', cell: (ep) => link(`#/endpoints/${ep.id}`, ep.name || ep.url) },
    { label: 'URL', cell: (ep) => ep.url, class: 'mono' },
    { label: 'State', cell: stateBadge },
    { label: 'Events', cell: (ep) => eventsText(ep.events) },
    { label: 'Failures in a row', cell: (ep) => String(ep.consecutive_failures), class: 'num' },
    { label: 'Last success', cell: (ep) => when(ep.last_success_at) },
  ];
  const list = pager('Endpoints',
    (cursor) => request('GET', '/v1/endpoints', { query: { is_active: filter.querySelector('select').value, cursor } }),
    (rows) => table('Endpoints', columns, rows, 'No endpoints yet.'));
  filter.querySelector('select').addEventListener('change', () => list.first());

  let createForm = null;
  if (canCreateEndpoints(session)) {
    createForm = form({ class: 'card', 'aria-labelledby': 'new-ep' }, [h('h2', { id: 'new-ep' }, 'New endpoint'), endpointFields()],
      'Create endpoint', async (f) => {
        const ep = await request('POST', '/v1/endpoints', { body: endpointBody(f) });
        replace(created, secretBox(`Signing secret of ${ep.name || ep.url}`, ep.secret),
          h('p', null, link(`#/endpoints/${ep.id}`, `Open ${ep.name || ep.url}`)));
        f.reset();
        say('Endpoint created');
        list.first();
        created.querySelector('button').focus();
      });
  }
  return [heading('Endpoints'), created, h('div', { class: 'toolbar' }, filter), list.el, createForm];
}

function factsOf(ep) {
  const rows = [
    ['State', stateBadge(ep)],
    ['URL', h('span', { class: 'mono' }, ep.url)],
    ['Description', ep.description || '—'],
    ['Events', eventsText(ep.events)],
    ['Filter', ep.filter ? h('code', { class: 'mono' }, JSON.stringify(ep.filter)) : 'none: every event'],
    ['Signature scheme', ep.signature_scheme],
    ['Timeout', `${ep.timeout_seconds} s`],
    ['Failures in a row', String(ep.consecutive_failures)],
    ['Disabled', ep.disabled_at ? `${when(ep.disabled_at)} (${ep.disabled_reason})` : '—'],
    ['Last success', when(ep.last_success_at)],
    ['Last failure', when(ep.last_failure_at)],
    ['Created', when(ep.created_at)],
  ];
  return facts(rows);
}

export async function endpointView(ctx) {
  const id = ctx.params[0];
  const path = `/v1/endpoints/${enc(id)}`;
  let ep = await request('GET', path);
  const title = heading(ep.name || ep.url);
  const facts = h('div', null, factsOf(ep));
  const output = h('div', { class: 'created' });
  const show = (next) => {
    ep = next;
    title.textContent = ep.name || ep.url;
    replace(facts, factsOf(ep));
    if (toggle) toggle.textContent = ep.is_active ? 'Disable' : 'Enable';
  };

  const toggle = writeButton(ep.is_active ? 'Disable' : 'Enable', async () => {
    show(await request('PATCH', path, { body: { is_active: !ep.is_active } }));
    say(ep.is_active ? 'Endpoint enabled' : 'Endpoint disabled');
  });
  const actions = [toggle];

  let writeForms = [];
  if (canWrite(session)) {
    const edit = form({ class: 'card', 'aria-labelledby': 'edit-ep' }, [h('h2', { id: 'edit-ep' }, 'Edit'), endpointFields(ep)],
      'Save changes', async (f) => {
        show(await request('PATCH', path, { body: endpointBody(f) }));
        say('Endpoint saved');
      });
    const rotate = form({ class: 'card', 'aria-labelledby': 'rotate-ep' }, [h('h2', { id: 'rotate-ep' }, 'Rotate secret'),
      input('Grace period (seconds)', { name: 'grace_seconds', type: 'number', min: 0, value: 86400 },
        'The old secret keeps signing beside the new one for this long')],
    'Rotate secret', async (f) => {
      const r = await request('POST', `${path}/rotate-secret`, { body: { grace_seconds: Number(value(f, 'grace_seconds')) } });
      replace(output, secretBox('New signing secret', r.secret));
      say('Secret rotated');
      output.querySelector('button').focus();
    });
    const test = form({ class: 'card', 'aria-labelledby': 'test-ep' }, [h('h2', { id: 'test-ep' }, 'Send a test'),
      input('Event type', { name: 'event_type', placeholder: 'webhook.test' })],
    'Send test', async (f) => {
      const body = value(f, 'event_type') ? { event_type: value(f, 'event_type') } : {};
      const r = await request('POST', `${path}/test`, { body });
      replace(output, h('p', null, 'Test queued: ', link(`#/deliveries/${r.delivery_id}`, r.delivery_id)));
      say('Test delivery queued');
      log.reload();
    });
    const since = h('input', { type: 'datetime-local', name: 'since', required: true });
    const until = h('input', { type: 'datetime-local', name: 'until' });
    const replay = form({ class: 'card', 'aria-labelledby': 'replay-ep' }, [h('h2', { id: 'replay-ep' }, 'Replay a time range'),
      field('Since', since), field('Until', until, 'Empty: until now'),
      h('fieldset', null, h('legend', null, 'Deliveries that ended'),
        ['failed', 'exhausted'].map((st) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', name: `status_${st}`, checked: true }), ` ${st}`)))],
    'Replay', async (f) => {
      const body = { since: new Date(since.value).toISOString() };
      if (until.value) body.until = new Date(until.value).toISOString();
      body.status = ['failed', 'exhausted'].filter((st) => value(f, `status_${st}`));
      const r = await request('POST', `${path}/replay`, { body });
      replace(output, h('p', null, `${r.queued} deliveries queued again.`));
      say(`Replay queued ${r.queued} deliveries`);
    });
    actions.push(writeButton('Delete endpoint', async () => {
      if (!(await confirmAction(`Delete the endpoint ${ep.name || ep.url}? Its queued deliveries end exhausted.`, 'Delete'))) return;
      await request('DELETE', path);
      say('Endpoint deleted');
      location.hash = '#/endpoints';
    }, { class: 'danger' }));
    writeForms = [test, rotate, replay, edit];
  }
  const log = deliveryLog(`${path}/deliveries`);
  return [
    h('p', null, link('#/endpoints', '← Endpoints')),
    title, h('p', { class: 'mono' }, ep.id), facts,
    h('div', { class: 'actions' }, actions),
    output,
    statsSection(id),
    log.el,
    h('div', { class: 'forms' }, writeForms),
  ];
}
