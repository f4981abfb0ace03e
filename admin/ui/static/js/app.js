// The console's shell: sign-in, navigation between views, polling.
import { call, session, setUnauthorizedHandler } from './api.js';
import { clear, h } from './dom.js';
import traffic from './views/traffic.js';
import shadow from './views/shadow.js';
import rollouts from './views/rollouts.js';
import history from './views/history.js';
import weights from './views/weights.js';

const views = { traffic, shadow, rollouts, history, weights };
const $ = (id) => document.getElementById(id);

// REFRESH is how often a view re-reads the API, in milliseconds.
export const REFRESH = 3000;

let who = null;       // GET /admin/whoami of the session's token
let unmount = null;   // stops the current view's timers

function status(text) { $('status').textContent = text; }

async function signIn(token) {
  try {
    const { data } = await call('GET', '/admin/whoami', { token });
    return data;
  } catch (e) {
    if (e.status === 401) throw new Error('That token was refused: it is not the admin token or any operator\'s.');
    if (e.status === 403) throw new Error('The admin API is disabled on this gateway (no token configured).');
    throw new Error('The admin API did not answer: ' + e.message);
  }
}

function showSignIn(message) {
  if (unmount) unmount();
  unmount = null;
  who = null;
  session.clear();
  $('nav').hidden = $('who').hidden = $('signout').hidden = true;
  $('view').hidden = true;
  clear($('view'));
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

function showApp() {
  $('signin').hidden = true;
  $('nav').hidden = $('who').hidden = $('signout').hidden = false;
  const scope = who.tenants ? ` · tenants: ${who.tenants.join(', ')}` : '';
  $('who').textContent = `${who.name} (${who.role})${scope}`;
  $('view').hidden = false;
  route();
}

// route mounts the view the URL's hash names (#traffic by default).
function route() {
  if (!who) return;
  const name = views[location.hash.slice(1)] ? location.hash.slice(1) : 'traffic';
  if (unmount) unmount();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  status('');
  const root = clear($('view'));
  root.dataset.view = name;
  const timers = [];
  let alive = true;
  const ctx = {
    who,
    status,
    alive: () => alive,
    // every runs f now and then every ms while the view is shown; a
    // failing run shows its error and the next one tries again.
    every(ms, f) {
      let busy = false;
      const run = async () => {
        if (busy || !alive) return;
        busy = true;
        try { await f(); } catch (e) { if (alive) status(e.message); } finally { busy = false; }
      };
      run();
      timers.push(setInterval(run, ms));
    },
    refresh: REFRESH,
  };
  document.title = `${views[name].title} · modelgate console`;
  root.append(h('h1', { id: 'view-title', tabindex: '-1' }, views[name].title));
  views[name].mount(root, ctx);
  unmount = () => { alive = false; timers.forEach(clearInterval); };
}

setUnauthorizedHandler(() => showSignIn('The API refused your token (it may have been rotated): sign in again.'));

// A view chosen from the navigation takes the focus to its heading, so
// that keyboard and screen-reader users land on the new content.
window.addEventListener('hashchange', () => { route(); document.getElementById('view-title')?.focus(); });
document.addEventListener('DOMContentLoaded', async () => {
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = $('token').value.trim();
    $('signin-error').textContent = '';
    try {
      who = await signIn(token);
      session.set(token);
      showApp();
    } catch (e) {
      $('signin-error').textContent = e.message;
    }
  });
  $('signout').addEventListener('click', () => showSignIn('Signed out.'));
  const saved = session.token();
  if (!saved) { showSignIn(); return; }
  try {
    who = await signIn(saved);
    showApp();
  } catch (e) {
    showSignIn(e.message);
  }
});
