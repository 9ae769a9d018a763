// The API client: the session (whose key, which org, what it may do) and one fetch wrapper.
// The key lives in sessionStorage only: never in a URL, a cookie or localStorage. So does the
// customer portal's session bearer, under its own item (a tab may hold both).

const KEY_ITEM = 'hookd.key';
const ORG_ITEM = 'hookd.org';
const PORTAL_ITEM = 'hookd.portal';

/**
 * The session every view is given. mode 'dashboard' (an API key) or 'portal' (a session bearer
 * for one customer, possibly read-only); isAdmin: an admin key, which names the org with org_id.
 * A portal's endpointIds (null: all the org's) and branding {name, logo_url, accent_color}.
 */
export const session = {
  token: null,
  isAdmin: false,
  orgId: null,
  orgName: null,
  readOnly: false,
  mode: 'dashboard',
  endpointIds: null,
  branding: null,
};

/** May this session change anything? Every write button asks this, and only this. */
export function canWrite(sess = session) {
  return Boolean(sess.token) && !sess.readOnly;
}

/** May it add endpoints? A portal limited to some endpoints may not (the API answers 403). */
export function canCreateEndpoints(sess = session) {
  return canWrite(sess) && !sess.endpointIds;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.field = body && body.field;
    this.body = body;
  }
}

/**
 * One API call: method, path (under the origin, e.g. /v1/endpoints), query (an object; empty
 * values are left out), body (sent as JSON). An admin session adds its org_id unless
 * org is false. Resolves to the parsed JSON; rejects with an ApiError.
 */
export async function request(method, path, { query = {}, body, org = true } = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  if (org && session.isAdmin && session.orgId) params.set('org_id', session.orgId);
  const qs = params.toString();
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path + (qs ? `?${qs}` : ''), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && session.mode === 'portal') endPortal();
    throw new ApiError(res.status, json);
  }
  return json;
}

/** Who is this key? Sets the session from GET /v1/org; rejects with an ApiError if unknown. */
export async function signIn(token) {
  session.token = token;
  try {
    const org = await request('GET', '/v1/org', { org: false });
    Object.assign(session, { isAdmin: false, orgId: org.id, orgName: org.name });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 400 && e.field === 'org_id')) {
      session.token = null;
      throw e;
    }
    // only an admin key is asked to name the org
    Object.assign(session, { isAdmin: true, orgId: sessionStorage.getItem(ORG_ITEM), orgName: null });
  }
  sessionStorage.setItem(KEY_ITEM, token);
}

/** The key kept by this tab, if any. */
export function storedToken() {
  return sessionStorage.getItem(KEY_ITEM);
}

/** An admin picks the org its org-owned pages act on. */
export function chooseOrg(id, name) {
  session.orgId = id;
  session.orgName = name;
  if (id) sessionStorage.setItem(ORG_ITEM, id);
  else sessionStorage.removeItem(ORG_ITEM);
}

export function signOut() {
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(ORG_ITEM);
  Object.assign(session, { token: null, isAdmin: false, orgId: null, orgName: null });
}

let portalEnded = () => {};

/** What the page does when the portal's link or session is refused (expired, used, revoked). */
export function onPortalEnded(fn) {
  portalEnded = fn;
}

// The org's name and branding stay: the message that the link ended still says whose it was.
function endPortal() {
  sessionStorage.removeItem(PORTAL_ITEM);
  Object.assign(session, { token: null, orgId: null, endpointIds: null });
  portalEnded();
}

// The answer of the exchange and of GET /v1/portal/session: the session's limits, the org.
function portalFrom(s) {
  Object.assign(session, {
    isAdmin: false,
    orgId: s.org.id,
    orgName: s.org.name,
    readOnly: s.read_only,
    endpointIds: s.endpoint_ids,
    branding: s.org.portal,
  });
}

/** Exchanges a portal link's one-time token for the tab's session; rejects with an ApiError. */
export async function enterPortal(linkToken) {
  session.mode = 'portal';
  session.token = null;
  sessionStorage.removeItem(PORTAL_ITEM);
  const s = await request('POST', '/v1/portal/exchange', { body: { token: linkToken }, org: false });
  sessionStorage.setItem(PORTAL_ITEM, s.session);
  session.token = s.session;
  portalFrom(s);
}

/** After a reload: the session this tab exchanged before, if any (false if none is kept). */
export async function resumePortal() {
  session.mode = 'portal';
  session.token = sessionStorage.getItem(PORTAL_ITEM);
  if (!session.token) return false;
  portalFrom(await request('GET', '/v1/portal/session', { org: false }));
  return true;
}
