// The org's settings: signature scheme of one-shot webhooks, its primary secret (rotate), the
// operational webhook URL, and how long its history is kept.
import { h, replace } from './dom.js';
import { canWrite, request, session } from './api.js';
import { button, confirmAction, facts, form, heading, input, link, say, secretBox, select, value } from './ui.js';

function factsOf(org) {
  return facts([
    ['Organization', org.name],
    ['Id', h('code', null, org.id)],
    ['Signature scheme', org.signature_scheme],
    ['Retention', org.retention_days ? `${org.retention_days} days` : 'the server\'s default'],
    ['Operational webhook', org.operational_webhook_url || 'none'],
    ['Operational endpoint', org.operational_endpoint_id
      ? link(`#/endpoints/${org.operational_endpoint_id}`, org.operational_endpoint_id) : '—'],
  ]);
}

export async function settingsView() {
  let org = await request('GET', '/v1/org');
  const current = h('div', null, factsOf(org));
  const output = h('div', { class: 'created' });
  const show = (next) => {
    org = next;
    replace(current, factsOf(org));
  };
  const secret = h('details', { class: 'card' }, h('summary', null, 'Primary secret (signs one-shot webhooks)'),
    h('code', { class: 'secret' }, org.primary_secret));
  if (!canWrite(session)) return [heading('Settings'), current, secret];

  const settings = form({ class: 'card', 'aria-labelledby': 'org-settings' }, [h('h2', { id: 'org-settings' }, 'Change settings'),
    select('Signature scheme', [['standard', 'standard (Standard Webhooks)'], ['hex', 'hex (X-Webhook-Signature)']],
      org.signature_scheme, { name: 'signature_scheme' }),
    input('Operational webhook URL', { name: 'operational_webhook_url', type: 'url', value: org.operational_webhook_url || '' },
      'Where hookd reports disabled endpoints, exhausted deliveries and failing sources; empty for nowhere'),
    input('Retention (days)', { name: 'retention_days', type: 'number', min: 1, max: 3650, value: org.retention_days || '' },
      'Empty: the server\'s --retention')],
  'Save settings', async (f) => {
    const body = { signature_scheme: value(f, 'signature_scheme') };
    const url = value(f, 'operational_webhook_url') || null;
    if (url !== org.operational_webhook_url) body.operational_webhook_url = url;
    const days = value(f, 'retention_days');
    body.retention_days = days ? Number(days) : null;
    show(await request('PATCH', '/v1/org', { body }));
    say('Settings saved');
    if (org.operational_webhook_secret && body.operational_webhook_url) {
      replace(output, secretBox('Operational webhook secret', org.operational_webhook_secret));
    }
  });
  const rotate = button('Rotate primary secret', async () => {
    if (!(await confirmAction('Rotate the org\'s primary secret? One-shot webhooks are signed with the new one at once.', 'Rotate'))) return;
    show(await request('POST', '/v1/org/rotate-secret', { body: {} }));
    replace(output, secretBox('New primary secret', org.primary_secret));
    replace(secret, h('summary', null, 'Primary secret (signs one-shot webhooks)'), h('code', { class: 'secret' }, org.primary_secret));
    say('Primary secret rotated');
  });
  return [heading('Settings'), current, secret, h('div', { class: 'actions' }, rotate), output, settings,
    portalLinkForm(org)];
}

/** A one-time link to the org's customer portal (POST /v1/orgs/{id}/portal-sessions), shown once. */
function portalLinkForm(org) {
  const shown = h('div', { class: 'created' });
  const f = form({ class: 'card', 'aria-labelledby': 'portal-link' }, [h('h2', { id: 'portal-link' }, 'Customer portal link'),
    input('Expires in (seconds)', { name: 'expires_in', type: 'number', min: 1, max: 604800, value: 3600 }),
    input('Endpoint ids', { name: 'endpoint_ids', autocomplete: 'off' }, 'Comma-separated; empty for all of the org\'s endpoints'),
    input('Read-only', { name: 'read_only', type: 'checkbox' }), shown],
  'Create portal link', async (form_) => {
    const ids = value(form_, 'endpoint_ids');
    const link_ = await request('POST', `/v1/orgs/${org.id}/portal-sessions`, {
      org: false,
      body: {
        expires_in: Number(value(form_, 'expires_in')),
        read_only: value(form_, 'read_only'),
        endpoint_ids: ids ? ids.split(',').map((x) => x.trim()).filter(Boolean) : null,
      },
    });
    replace(shown, secretBox('Portal link', new URL(link_.url, location.origin).href));
    say('Portal link created');
  });
  return f;
}
