// The dashboard's shell: sign-in, the navigation and the hash router (#/endpoints, #/events, ...).
// Every view is given a ctx {session, params, refresh} and returns its nodes; the router puts
// them in <main> and moves focus to the new view's heading. At /portal the same shell is the
// customer portal (portal.js): no sign-in, only the routes marked portal.
import { h, replace } from './dom.js';
import { chooseOrg, onPortalEnded, request, session, signIn, signOut, storedToken } from './api.js';
import { endedView, hasLinkToken, isPortal, portalName, startPortal } from './portal.js';
import { clearError, errorText, form, heading, input, link, say, value } from './ui.js';
import { endpointView, endpointsView } from './views-endpoints.js';
import { deliveryView } from './views-deliveries.js';
import { eventTypesView, eventView, eventsView } from './views-events.js';
import { inboundView, sourceView, sourcesView } from './views-sources.js';
import { settingsView } from './views-settings.js';
import { orgView, orgsView } from './views-orgs.js';

// org: acts on one org (an admin must pick it first); portal: shown in the customer portal too;
// admin: only for admin keys.
const ROUTES = [
  { path: /^endpoints$/, view: endpointsView, nav: 'Endpoints', org: true, portal: true },
  { path: /^endpoints\/([^/]+)$/, view: endpointView, org: true, portal: true, under: 'endpoints' },
  { path: /^deliveries\/([^/]+)$/, view: deliveryView, org: true, portal: true, under: 'endpoints' },
  { path: /^events$/, view: eventsView, nav: 'Events', org: true },
  { path: /^events\/([^/]+)$/, view: eventView, org: true, under: 'events' },
  { path: /^event-types$/, view: eventTypesView, nav: 'Event types' },
  { path: /^sources$/, view: sourcesView, nav: 'Sources', org: true },
  { path: /^sources\/([^/]+)$/, view: sourceView, org: true, under: 'sources' },
  { path: /^inbound\/([^/]+)$/, view: inboundView, org: true, under: 'sources' },
  { path: /^settings$/, view: settingsView, nav: 'Settings', org: true },
  { path: /^orgs$/, view: orgsView, nav: 'Organizations', admin: true },
  { path: /^orgs\/([^/]+)$/, view: orgView, admin: true, under: 'orgs' },
];

const main = () => document.getElementById('main');

function allowed(route) {
  if (session.mode === 'portal') return Boolean(route.portal);
  return !route.admin || session.isAdmin;
}

function homeHash() {
  return session.isAdmin && !session.orgId ? '#/orgs' : '#/endpoints';
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  if (!session.token) {
    replace(nav);
    return;
  }
  const items = ROUTES.filter((r) => r.nav && allowed(r)).map((r) => {
    const name = r.path.source.slice(1, -1);
    const a = link(`#/${name}`, r.nav);
    if (current && (current.path === r.path || current.under === name)) a.setAttribute('aria-current', 'page');
    return h('li', null, a);
  });
  if (session.mode === 'portal') {
    replace(nav, h('ul', null, items), session.readOnly ? h('span', { class: 'who' }, 'Read-only access') : null);
    return;
  }
  const who = session.isAdmin
    ? h('span', { class: 'who' }, 'Admin key · ', session.orgId
      ? ['acting on ', h('strong', null, session.orgName || session.orgId), ' (', link('#/orgs', 'change'), ')']
      : link('#/orgs', 'pick an organization'))
    : h('span', { class: 'who' }, 'Org ', h('strong', null, session.orgName || session.orgId));
  const out = h('button', { type: 'button', class: 'link-button' }, 'Sign out');
  out.addEventListener('click', () => {
    signOut();
    location.hash = '#/';
    render();
  });
  replace(nav, h('ul', null, items), who, out);
}

function loginView() {
  const f = form({ class: 'card login', 'aria-labelledby': 'view-title' }, [
    input('API key', { name: 'key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' },
      'An admin key or an org key. It is kept in this tab only (sessionStorage) and sent as a bearer token.'),
  ], 'Sign in', async (el) => {
    await signIn(value(el, 'key'));
    location.hash = homeHash();
    if (location.hash === homeHash()) render();
  });
  return [heading('Sign in to hookd'), f];
}

function notFound(text) {
  return [heading('Not found'), h('p', { class: 'not-found' }, `${text} `, link(homeHash(), 'Go home'))];
}

let ticket = 0;

async function render() {
  const mine = ++ticket;
  clearError();
  const path = location.hash.replace(/^#\/?/, '');
  let nodes;
  let route = null;
  if (!session.token) {
    nodes = isPortal ? endedView() : loginView();
  } else {
    let params = [];
    route = ROUTES.find((r) => {
      const m = r.path.exec(path);
      if (m) params = m.slice(1).map(decodeURIComponent);
      return m;
    });
    if (!route || !allowed(route)) {
      if (path === '') {
        location.hash = homeHash();
        return;
      }
      nodes = notFound('No such page.');
      route = null;
    } else if (route.org && session.isAdmin && !session.orgId) {
      nodes = [heading('Pick an organization'),
        h('p', null, 'An admin key acts on one organization at a time: ', link('#/orgs', 'choose it'), ' first.')];
    } else {
      replace(main(), h('p', { class: 'loading' }, 'Loading…'));
      try {
        nodes = await route.view({ session, params, refresh: render });
      } catch (err) {
        nodes = err.status === 404 ? notFound('Nothing here has that id.')
          : [heading('Could not load this page'), h('p', { class: 'error' }, errorText(err))];
      }
    }
  }
  if (mine !== ticket) return; // the user moved on meanwhile
  renderNav(route);
  replace(main(), nodes);
  const title = main().querySelector('h1');
  const site = isPortal ? portalName() : 'hookd';
  document.title = title ? `${title.textContent} · ${site}` : site;
  if (title) title.focus();
}

async function start() {
  document.getElementById('skip').addEventListener('click', (ev) => {
    ev.preventDefault(); // the hash is the router's
    main().focus();
  });
  const token = isPortal ? null : storedToken();
  if (isPortal) {
    onPortalEnded(render);
    await startPortal();
  } else if (token) {
    try {
      await signIn(token);
      if (session.isAdmin && session.orgId) {
        const org = await request('GET', `/v1/orgs/${encodeURIComponent(session.orgId)}`, { org: false });
        chooseOrg(org.id, org.name);
      }
    } catch {
      if (!session.token) signOut(); // the key no longer works
      else chooseOrg(null, null); // the chosen org is gone
    }
  }
  window.addEventListener('hashchange', async () => {
    say(''); // a message belongs to the page it was said on
    if (isPortal && hasLinkToken()) await startPortal(); // a new link opened in this tab
    render();
  });
  render();
}

start();
