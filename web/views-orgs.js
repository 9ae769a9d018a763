// For admin keys: the organizations (pick the one the other pages act on, create, delete) and
// one organization's API keys (create, the key shown once; revoke).
import { h, replace, when } from './dom.js';
import { canWrite, chooseOrg, request, session } from './api.js';
import {
  badge, button, confirmAction, facts, form, heading, input, link, pager, say, secretBox, table, value,
  writeButton,
} from './ui.js';

const SCOPES = ['events', 'webhooks', 'sources'];
const enc = encodeURIComponent;

export async function orgsView(ctx) {
  const columns = [
    { label: 'Organization', cell: (o) => link(`#/orgs/${o.id}`, o.name) },
    { label: 'Id', cell: (o) => o.id, class: 'mono' },
    { label: 'Created', cell: (o) => when(o.created_at) },
    {
      label: 'Acting on',
      cell: (o) => (o.id === session.orgId ? badge('current', 'active')
        : button(`Use ${o.name}`, () => {
          chooseOrg(o.id, o.name);
          say(`Now acting on ${o.name}`);
          ctx.refresh();
        })),
    },
  ];
  const list = pager('Organizations', (cursor) => request('GET', '/v1/orgs', { query: { cursor }, org: false }),
    (rows) => table('Organizations', columns, rows, 'No organizations yet.'));
  const create = canWrite(session) && form({ class: 'card', 'aria-labelledby': 'new-org' }, [h('h2', { id: 'new-org' }, 'New organization'),
    input('Name', { name: 'name', required: true, maxlength: 100 })], 'Create organization', async (f) => {
    const org = await request('POST', '/v1/orgs', { body: { name: value(f, 'name') }, org: false });
    f.reset();
    say(`Organization ${org.name} created`);
    list.first();
  });
  return [heading('Organizations'),
    h('p', null, 'An admin key acts on one organization at a time on the other pages: pick it here.'),
    list.el, create];
}

export async function orgView(ctx) {
  const id = ctx.params[0];
  const org = await request('GET', `/v1/orgs/${enc(id)}`, { org: false });
  const created = h('div', { class: 'created' });
  const columns = [
    { label: 'Key', cell: (k) => k.name },
    { label: 'Id', cell: (k) => k.id, class: 'mono' },
    { label: 'Scopes', cell: (k) => k.scopes.join(', ') },
    { label: 'State', cell: (k) => (k.revoked_at ? badge(`revoked ${when(k.revoked_at)}`, 'disabled') : badge('active')) },
    {
      label: 'Revoke',
      cell: (k) => (k.revoked_at ? '—' : writeButton(`Revoke ${k.name}`, async () => {
        if (!(await confirmAction(`Revoke the key ${k.name}? Requests with it fail at once.`, 'Revoke'))) return;
        await request('DELETE', `/v1/api-keys/${enc(k.id)}`, { org: false });
        say(`Key ${k.name} revoked`);
        keys.reload();
      }, { class: 'danger' })),
    },
  ];
  const keys = pager('API keys', (cursor) => request('GET', `/v1/orgs/${enc(id)}/api-keys`, { query: { cursor }, org: false }),
    (rows) => table('API keys', columns, rows, 'No keys.'));
  const create = canWrite(session) && form({ class: 'card', 'aria-labelledby': 'new-key' }, [h('h2', { id: 'new-key' }, 'New API key'),
    input('Name', { name: 'name', required: true, maxlength: 100 }),
    h('fieldset', null, h('legend', null, 'Scopes'), SCOPES.map((sc) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: `scope_${sc}`, checked: true }), ` ${sc}`)))],
  'Create key', async (f) => {
    const k = await request('POST', `/v1/orgs/${enc(id)}/api-keys`, {
      body: { name: value(f, 'name'), scopes: SCOPES.filter((sc) => value(f, `scope_${sc}`)) }, org: false,
    });
    replace(created, secretBox(`API key ${k.name}`, k.key));
    f.reset();
    say('Key created');
    keys.first();
    created.querySelector('button').focus();
  });
  const remove = writeButton('Delete organization', async () => {
    if (!(await confirmAction(`Delete ${org.name}? Its keys are revoked, its endpoints and sources deleted.`, 'Delete'))) return;
    await request('DELETE', `/v1/orgs/${enc(id)}`, { org: false });
    if (session.orgId === id) chooseOrg(null, null);
    say(`${org.name} deleted`);
    location.hash = '#/orgs';
  }, { class: 'danger' });
  const use = org.id === session.orgId ? null : button(`Act on ${org.name}`, () => {
    chooseOrg(org.id, org.name);
    say(`Now acting on ${org.name}`);
    ctx.refresh();
  });
  return [
    h('p', null, link('#/orgs', '← Organizations')),
    heading(org.name),
    facts([['Id', h('code', null, org.id)], ['Signature scheme', org.signature_scheme], ['Created', when(org.created_at)]]),
    h('div', { class: 'actions' }, use, remove),
    created,
    h('section', { 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'API keys'), keys.el),
    create,
  ];
}
