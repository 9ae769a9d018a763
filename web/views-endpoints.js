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

/** Create's kind: a push endpoint needs its URL, a poll endpoint has none. */
function kindField() {
  const kind = select('Kind', [['push', 'push (hookd POSTs to the URL)'], ['poll', 'poll (its consumer reads them)']],
    'push', { name: 'kind' });
  kind.querySelector('select').addEventListener('change', (ev) => {
    const url = ev.target.form.elements.namedItem('url');
    url.required = ev.target.value === 'push';
    url.disabled = !url.required;
  });
  return kind;
}

/** The fields of create (with its kind) and edit, filled from ep; a poll endpoint has no URL. */
function endpointFields(ep = {}, creating = false) {
  return [
    creating ? kindField() : null,
    ep.kind === 'poll' ? null
      : input('URL', { name: 'url', type: 'url', required: true, value: ep.url || '', autocomplete: 'off' }),
    input('Name', { name: 'name', value: ep.name || '', maxlength: 100 }),
    input('Description', { name: 'description', value: ep.description || '', maxlength: 500 }),
    input('Events', { name: 'events', value: (ep.events || []).join(', ') },
      'Comma-separated event types or prefix.* patterns; empty for all events'),
    select('Signature scheme', [['standard', 'standard (Standard Webhooks)'], ['hex', 'hex (X-Webhook-Signature)'],
      ['ed25519', 'ed25519 (Standard Webhooks v1a, public key)']],
    ep.signature_scheme || 'standard', { name: 'signature_scheme' }),
    input('Timeout (seconds)', { name: 'timeout_seconds', type: 'number', min: 1, max: 60, value: ep.timeout_seconds || 15 }),
    ep.kind === 'poll' ? null : select('Ordering', [['none', 'none (in parallel)'], ['fifo', 'fifo (one per ordering key, in order)']],
      ep.ordering || 'none', { name: 'ordering' }),
    input('Retry schedule', { name: 'retry_schedule', value: ep.retry_schedule || '', autocomplete: 'off' },
      "Delays between attempts, e.g. 1s,4s,16s; empty for the server's"),
    input('Disable after', { name: 'disable_after', type: 'number', min: 1, value: ep.disable_after || '' },
      "Consecutive failed deliveries before it is disabled; empty for the server's"),
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
  const poll = value(f, 'kind') === 'poll' || f.elements.namedItem('url') === null;
  return {
    kind: value(f, 'kind'),
    url: poll ? undefined : value(f, 'url'),
    name: value(f, 'name'),
    description: value(f, 'description'),
    events: splitList(value(f, 'events')),
    signature_scheme: value(f, 'signature_scheme'),
    timeout_seconds: Number(value(f, 'timeout_seconds')),
    ordering: value(f, 'ordering'),
    retry_schedule: value(f, 'retry_schedule') || null,
    disable_after: value(f, 'disable_after') ? Number(value(f, 'disable_after')) : null,
    filter: filterValue(f),
  };
}

/** An ed25519 endpoint's public key: not a secret, so no "shown only now", and on its page too. */
function publicKeyBox(label, key) {
  return h('div', { class: 'secret-box', role: 'group', 'aria-label': label },
    h('p', null, h('strong', null, label), ' — receivers verify the v1a signatures with it; hookd keeps the private key: '),
    h('code', { class: 'mono', 'data-public-key': '' }, key));
}

/** What a create, PATCH or rotation answer has to show once: a new HMAC secret or public key. */
function keyBox(label, answer) {
  if (answer.secret) return secretBox(`Signing secret of ${label}`, answer.secret);
  if (answer.public_key) return publicKeyBox(`Public key of ${label}`, answer.public_key);
  return null;
}

export async function endpointsView() {
  const created = h('div', { class: 'created' });
  const filter = select('Show', [['', 'All endpoints'], ['true', 'Active'], ['false', 'Disabled']], '',
    { name: 'is_active' });
  const columns = [
    { label: 'Endpoint', cell: (ep) => link(`#/endpoints/${ep.id}`, ep.name || ep.url || ep.id) },
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
    createForm = form({ class: 'card', 'aria-labelledby': 'new-ep' }, [h('h2', { id: 'new-ep' }, 'New endpoint'), endpointFields({}, true)],
      'Create endpoint', async (f) => {
        const ep = await request('POST', '/v1/endpoints', { body: endpointBody(f) });
        replace(created, ep.kind === 'poll'
          ? secretBox(`Poll token of ${ep.name || ep.id}`, ep.poll_token)
          : keyBox(ep.name || ep.url, ep),
          h('p', null, link(`#/endpoints/${ep.id}`, `Open ${ep.name || ep.url || ep.id}`)));
        f.reset();
        say('Endpoint created');
        list.first();
        (created.querySelector('button') || created.querySelector('a')).focus();
      });
  }
  return [heading('Endpoints'), created, h('div', { class: 'toolbar' }, filter), list.el, createForm];
}

function factsOf(ep) {
  const rows = [
    ['State', stateBadge(ep)],
    ['Kind', ep.kind === 'poll' ? `poll: read at GET /v1/endpoints/${ep.id}/poll with its token` : 'push'],
    ['URL', ep.url ? h('span', { class: 'mono' }, ep.url) : '—'],
    ['Description', ep.description || '—'],
    ['Events', eventsText(ep.events)],
    ['Filter', ep.filter ? h('code', { class: 'mono' }, JSON.stringify(ep.filter)) : 'none: every event'],
    ['Signature scheme', ep.signature_scheme],
    ...(ep.public_key ? [['Public key', h('code', { class: 'mono', 'data-public-key': '' }, ep.public_key)]] : []),
    ...(ep.previous_public_key
      ? [['Previous public key', h('code', { class: 'mono' }, `${ep.previous_public_key} (signs too until the grace period ends)`)]]
      : []),
    ['Timeout', `${ep.timeout_seconds} s`],
    ['Ordering', ep.ordering === 'fifo' ? 'fifo: one delivery per ordering key at a time, in order' : 'none'],
    ['Retry schedule', ep.retry_schedule || "the server's"],
    ['Disable after', ep.disable_after ? `${ep.disable_after} failures` : "the server's"],
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
  const title = heading(ep.name || ep.url || ep.id);
  const facts = h('div', null, factsOf(ep));
  const output = h('div', { class: 'created' });
  const show = (next) => {
    ep = next;
    title.textContent = ep.name || ep.url || ep.id;
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
        const next = await request('PATCH', path, { body: endpointBody(f) });
        show(next);
        // a switch to or from ed25519 made a new secret or key: show it now, as creation does
        replace(output, next.secret ? keyBox(next.name || next.url, next) : null);
        say(next.secret ? 'Endpoint saved with a new signing secret' : 'Endpoint saved');
      });
    const rotate = form({ class: 'card', 'aria-labelledby': 'rotate-ep' }, [h('h2', { id: 'rotate-ep' }, 'Rotate secret'),
      input('Grace period (seconds)', { name: 'grace_seconds', type: 'number', min: 0, value: 86400 },
        'The old secret keeps signing beside the new one for this long')],
    'Rotate secret', async (f) => {
      const r = await request('POST', `${path}/rotate-secret`, { body: { grace_seconds: Number(value(f, 'grace_seconds')) } });
      replace(output, r.secret ? secretBox('New signing secret', r.secret) : publicKeyBox('New public key', r.public_key));
      say('Secret rotated');
      if (r.secret) output.querySelector('button').focus();
      show(await request('GET', path));
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
      if (!(await confirmAction(`Delete the endpoint ${ep.name || ep.url || ep.id}? Its queued deliveries end exhausted.`, 'Delete'))) return;
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
