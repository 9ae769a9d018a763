// The customer portal (/portal): the one-time link's token is taken out of the URL at once and
// exchanged for the tab's session, the org's branding is applied, and a refused link or session
// ends in one message and nothing else.
import { h, replace } from './dom.js';
import { ApiError, enterPortal, resumePortal, session } from './api.js';
import { errorText, heading } from './ui.js';

/** Is this page the customer portal rather than the dashboard? */
export const isPortal = location.pathname === '/portal';

let failure = null; // what stopped the portal from opening, other than a refusal (a 401)

/** The link's token in the hash (#token=...), or null. */
function linkToken() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

/** Is the hash a new link (opened in a tab already on the portal)? */
export function hasLinkToken() {
  return linkToken() !== null;
}

/**
 * Opens the portal: with a link, exchanges its token (after removing it from the address bar and
 * the history entry, before anything else can read or keep it); else resumes the tab's session.
 */
export async function startPortal() {
  failure = null;
  const token = linkToken();
  try {
    if (token) {
      history.replaceState(null, '', location.pathname + location.search);
      await enterPortal(token);
    } else {
      await resumePortal();
    }
  } catch (err) {
    session.token = null;
    if (!(err instanceof ApiError && err.status === 401)) failure = err;
  }
  applyBranding();
}

/** The page shown without a session: the link expired, was used, was revoked, or none was given. */
export function endedView() {
  if (failure) {
    return [heading('Could not open the portal'), h('p', { class: 'error' }, errorText(failure)),
      h('p', null, 'Reload the page to try again.')];
  }
  return [heading('This link has expired'),
    h('p', { class: 'ended' }, 'This link has expired or was already used; ask for a new one.')];
}

/** The portal's name: the org's branding, else the org's name. */
export function portalName() {
  return (session.branding && session.branding.name) || session.orgName || 'Webhooks';
}

// WCAG relative luminance and contrast ratio of #rrggbb colours
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/**
 * The header shows the org's logo and name; the accent colour fills the header (with black or
 * white text, whichever reads better on it) and colours links and buttons where it is dark
 * enough to read on white. Set through the CSSOM: the CSP allows no style attribute.
 */
function applyBranding() {
  const brand = document.querySelector('.brand');
  const root = document.documentElement.style;
  const b = session.branding || {};
  const name = portalName();
  document.body.classList.add('portal');
  if (session.orgId) {
    replace(brand, b.logo_url ? h('img', { src: b.logo_url, alt: `${name} logo`, class: 'logo' }) : null,
      h('span', null, name));
  } else {
    replace(brand, 'Webhooks');
  }
  const accent = /^#[0-9a-fA-F]{6}$/.test(b.accent_color || '') ? b.accent_color : null;
  if (!accent) {
    ['--brand', '--on-brand', '--accent'].forEach((p) => root.removeProperty(p));
    return;
  }
  const l = luminance(accent);
  root.setProperty('--brand', accent);
  root.setProperty('--on-brand', contrast(l, 1) >= contrast(l, 0) ? '#ffffff' : '#111111');
  if (contrast(l, 1) >= 4.5) root.setProperty('--accent', accent);
  else root.removeProperty('--accent');
}
