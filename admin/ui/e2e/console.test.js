// End-to-end test of the operator console in headless Chromium, against a
// real gateway started by scripts/console-e2e.sh (which sets the CONSOLE_*
// variables). Run it through that script; the tests share one gateway and
// run in order, each signing in afresh in its own browser context.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run scripts/console-e2e.sh`);
  return v;
};
const ADMIN = env('CONSOLE_ADMIN');
const TRAFFIC = env('CONSOLE_TRAFFIC');
const SHOTS = env('CONSOLE_SCREENSHOTS');
const TOKENS = {
  viewer: env('CONSOLE_VIEWER_TOKEN'), operator: env('CONSOLE_OPERATOR_TOKEN'),
  approver: env('CONSOLE_APPROVER_TOKEN'), scoped: env('CONSOLE_SCOPED_TOKEN'),
};
const adminOrigin = new URL(ADMIN).origin;

// Every URL any page asked for, and every page error or console error:
// checked after all tests (nothing may leave the admin origin, and the
// CSP must not have blocked anything).
const requests = [];
const problems = [];
const contexts = [];
let browser;
let traffic;

// waitUntil polls f until it returns a truthy value, up to ms.
async function waitUntil(what, ms, f) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(token, p) {
  const res = await fetch(ADMIN + p, { headers: { Authorization: 'Bearer ' + token } });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return res.json();
}

// driveTraffic sends prediction requests to retail's churn (most) and
// fraud (sticky users) until stopped, a few at a time, so that the
// rollout moves and the stats and shadow views have something to show.
function driveTraffic() {
  let stop = false, sent = 0, failed = 0;
  const one = async (i) => {
    const model = i % 4 === 0 ? 'fraud' : 'churn';
    const data = [Math.random(), Math.random() - 0.5, Math.random(), 2 * Math.random()];
    try {
      const res = await fetch(`${TRAFFIC}/v2/models/${model}/infer`, {
        method: 'POST',
        headers: { 'X-API-Key': env('CONSOLE_KEY'), 'Content-Type': 'application/json', 'X-User-ID': 'user-' + (i % 500) },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data }] }),
      });
      await res.arrayBuffer();
      if (!res.ok) failed++;
    } catch { failed++; }
    sent++;
  };
  const worker = async (w) => { for (let i = w; !stop && sent < 200000; i += 4) await one(i); };
  const done = Promise.all([0, 1, 2, 3].map(worker));
  return { stop: async () => { stop = true; await done; return { sent, failed }; }, count: () => sent };
}

// open opens the console in a new context and signs in with token
// (typed, then Enter: the keyboard path); without a token it stops at the
// sign-in form.
async function open(token, { refusalExpected = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  contexts.push(context);
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs every 4xx fetch; the refused sign-in's 401 is the point of that test.
    if (m.type() !== 'error' || (refusalExpected && m.text().includes('status of 401'))) return;
    problems.push(`console error: ${m.text()}`);
  });
  await page.goto(ADMIN + '/ui/');
  await page.getByLabel('Operator token').waitFor();
  if (token) {
    await page.getByLabel('Operator token').fill(token);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Views' }).waitFor();
  }
  return page;
}

const VIEWS = {
  traffic: { link: 'Traffic', ready: 'table.versions' },
  shadow: { link: 'Shadow', ready: '[data-shadow], #view p' },
  rollouts: { link: 'Rollouts', ready: '[data-rollout], #view p.empty' },
  history: { link: 'History', ready: 'table.revisions' },
  weights: { link: 'Change weights', ready: 'fieldset' },
};

async function go(page, view) {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: VIEWS[view].link, exact: true }).click();
  await page.locator(`#view[data-view=${view}]`).waitFor();
  await page.locator(VIEWS[view].ready).first().waitFor();
  // Accessibility basics on every view: each form control has a label,
  // each button a name.
  const unlabelled = await page.evaluate(() => [
    ...[...document.querySelectorAll('input, select, textarea')].filter((e) => !e.labels.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML),
    ...[...document.querySelectorAll('button')].filter((b) => !b.textContent.trim() && !b.getAttribute('aria-label')).map((b) => b.outerHTML),
  ]);
  assert.deepEqual(unlabelled, [], `${view}: controls without a label or name`);
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `console-${name}.png`), fullPage: true });

before(async () => {
  await waitUntil('the gateway to be ready', 30000, async () => (await fetch(ADMIN + '/readyz')).ok);
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
  traffic = driveTraffic();
});

after(async () => {
  const t = traffic && await traffic.stop();
  if (t) console.log(`# traffic: ${t.sent} requests, ${t.failed} failed`);
  for (const c of contexts) await c.close();
  if (browser) await browser.close();
});

test('a wrong token is refused', async () => {
  const page = await open(undefined, { refusalExpected: true });
  await page.getByLabel('Operator token').fill('not-anyones-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Views' }).isVisible(), false, 'views offered after a refused token');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token was kept');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the console set a cookie');
  await shot(page, 'signin');
});

test('a viewer sees every view and no action button', async () => {
  const page = await open(TOKENS.viewer);
  await page.getByText('vera (viewer)').waitFor();
  for (const view of Object.keys(VIEWS)) {
    await go(page, view);
    const actions = await page.locator('#view [data-action], #view button.action').count();
    assert.equal(actions, 0, `${view}: ${actions} action buttons offered to a viewer`);
  }
  // Keyboard: a focused view link and Enter open the view, and the focus
  // moves to its heading.
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Shadow' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#view[data-view=shadow]').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'view-title');
  // The token is in sessionStorage, and a reload keeps the session.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('modelgate.console.token')), TOKENS.viewer);
  await page.reload();
  await page.getByRole('navigation', { name: 'Views' }).waitFor();
});

test('an operator changes weights, and the table and GET /admin/routes agree', async () => {
  const page = await open(TOKENS.operator);
  const before = await api(TOKENS.operator, '/admin/routes');
  await go(page, 'weights');
  await page.getByLabel('Model').selectOption('retail/fraud');
  await page.locator('#w-v1').fill('50');
  await page.locator('#w-v2').fill('50');
  await page.getByLabel('Reason (recorded with the revision)').fill('e2e: fraud 50/50');
  const apply = page.getByRole('button', { name: 'Apply' });
  assert.equal(await apply.isDisabled(), true, 'Apply offered before a preview');
  await page.getByRole('button', { name: 'Preview' }).click();
  const sticky = page.locator('.sticky[data-switch-share]');
  await sticky.waitFor();
  const switchShare = Number(await sticky.getAttribute('data-switch-share'));
  assert.ok(switchShare > 0 && switchShare < 1, `sticky switch share ${switchShare}, want between 0 and 1`);
  await page.getByText('move v1 → v2').waitFor();
  await shot(page, 'weights');
  await apply.click();
  await page.locator('[data-applied]').waitFor();

  const routes = await api(TOKENS.operator, '/admin/routes');
  assert.equal(routes.revision, before.revision + 1);
  const fraud = routes.tenants.find((t) => t.name === 'retail').models.find((m) => m.name === 'fraud');
  assert.deepEqual(fraud.versions.map((v) => [v.name, v.weight]), [['v1', 50], ['v2', 50]]);

  await go(page, 'traffic');
  const table = page.locator('table[data-model="retail/fraud"]');
  await table.locator('tr[data-version=v1] [data-weight="50"]').waitFor();
  const shown = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) =>
    [r.dataset.version, Number(r.querySelector('[data-weight]').dataset.weight), Number(r.querySelector('[data-share]').dataset.share)]));
  assert.deepEqual(shown, fraud.versions.map((v) => [v.name, v.weight, v.share_percent]), 'the traffic table differs from /admin/routes');
  assert.equal(await page.locator('[data-revision]').first().getAttribute('data-revision'), String(routes.revision));
  // Live figures: a request rate over the window on the model that gets traffic.
  await page.locator('table[data-model="retail/churn"] tr[data-version=v1] td', { hasText: '/s' }).first().waitFor();
  await shot(page, 'traffic');
});

test('an operator rolls back a revision', async () => {
  const page = await open(TOKENS.operator);
  const before = await api(TOKENS.operator, '/admin/routes');
  await go(page, 'history');
  await page.getByRole('button', { name: 'Roll back to revision 1' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Reason (recorded in the audit log)').fill('e2e: back to the file');
  await dialog.getByRole('button', { name: 'Roll back to 1' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator(`tr.running[data-revision="${before.revision + 1}"]`, { hasText: 'rollback' }).waitFor();

  const routes = await api(TOKENS.operator, '/admin/routes');
  assert.equal(routes.revision, before.revision + 1);
  assert.equal(routes.source, 'rollback');
  const fraud = routes.tenants.find((t) => t.name === 'retail').models.find((m) => m.name === 'fraud');
  assert.deepEqual(fraud.versions.map((v) => [v.name, v.weight]), [['v1', 90], ['v2', 10]]);
  await page.locator('[data-verified=true]').waitFor();
  await page.locator('table.audit tr[data-audit-action=rollback]', { hasText: 'e2e: back to the file' }).waitFor();
  await shot(page, 'history');
});

test('an approver approves a waiting rollout step and watches it advance', async () => {
  const page = await open(TOKENS.approver);
  await go(page, 'rollouts');
  const card = page.locator('[data-rollout="retail/churn"]');
  // The script's traffic moves churn through its shadow and 25% steps.
  await card.locator('[data-state=waiting_approval]').waitFor({ timeout: 180000 });
  await card.locator('li[data-step="2"][aria-current=step]').waitFor();
  await card.locator('tr[data-gate=max_error_rate_increase]').waitFor();
  await shot(page, 'rollouts');
  await card.getByLabel('Comment (required to reject)').fill('e2e: looks fine');
  await card.getByRole('button', { name: 'Approve step' }).click();
  await card.locator('li[data-step="3"][aria-current=step]').waitFor();
  const r = await api(TOKENS.approver, '/admin/rollouts/retail/churn');
  assert.ok(r.step >= 3, `rollout at step ${r.step}, want past the approve step`);
  assert.ok(r.decisions.some((d) => d.action === 'approved' && d.actor === 'ada'), 'no approval by ada in the decisions');

  await go(page, 'shadow');
  await page.waitForFunction(() => {
    const line = document.querySelector('[data-shadow="retail/fraud"] polyline');
    return line && line.getAttribute('points').split(' ').length >= 3;
  });
  await page.locator('[data-shadow="retail/fraud"] table.mismatches code').first().waitFor();
  await shot(page, 'shadow');
});

test('a scoped operator never sees another tenant', async () => {
  const page = await open(TOKENS.scoped);
  const bodies = [];
  page.on('response', async (res) => {
    if (new URL(res.url()).pathname.startsWith('/admin/')) bodies.push(await res.text().catch(() => ''));
  });
  await page.getByText('tenants: acme').waitFor();
  for (const view of Object.keys(VIEWS)) {
    await go(page, view);
    const text = await page.locator('body').innerText();
    assert.ok(!/retail|fraud|churn/.test(text), `${view} shows another tenant:\n${text}`);
  }
  await go(page, 'traffic');
  assert.deepEqual(await page.locator('section[data-tenant]').evaluateAll((s) => s.map((x) => x.dataset.tenant)), ['acme']);
  await go(page, 'weights');
  assert.deepEqual(await page.getByLabel('Model').locator('option').evaluateAll((o) => o.map((x) => x.value)), ['acme/scoring']);
  assert.ok(bodies.length > 5, `only ${bodies.length} API answers seen`);
  for (const b of bodies) assert.ok(!/retail|fraud|churn/.test(b), `an API answer to the scoped operator names another tenant: ${b.slice(0, 300)}`);
});

test('no request leaves the admin origin, and the page ran without errors', () => {
  assert.ok(requests.length > 20, `only ${requests.length} requests seen`);
  const away = requests.filter((u) => new URL(u).origin !== adminOrigin);
  assert.deepEqual(away, [], 'requests to another origin');
  assert.deepEqual(problems, [], 'page or console errors (a CSP violation is one)');
});
