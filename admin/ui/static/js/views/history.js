// History: routing revisions with their semantic diffs and a rollback
// (with confirmation and a reason), and the audit log with the result of
// verifying its hash chain.
import { atLeast, get, post } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { clear, dash, h, when } from '../dom.js';

function revisionRow(r, running, ctx, reload) {
  const canRollback = atLeast(ctx.who, 'operator') && r.n !== running;
  const rollback = async () => {
    const reason = await confirmDialog({
      title: `Roll back to revision ${r.n}?`,
      text: `The routing of revision ${r.n} (${when(r.time)}) becomes a new revision${ctx.who.tenants ? ', for your tenants only' : ''}. API keys are not rolled back.`,
      confirmLabel: `Roll back to ${r.n}`, reasonLabel: 'Reason (recorded in the audit log)', reasonRequired: true,
    });
    if (reason === null) return;
    try {
      const nr = await post('/admin/rollback', { to: r.n, reason }, { ifMatch: running });
      ctx.status(`Rolled back to revision ${r.n}: now revision ${nr.n}.`);
    } catch (e) {
      ctx.status(`Rollback refused: ${e.message}`);
    }
    await reload();
  };
  return h('tr', { 'data-revision': r.n, class: r.n === running ? 'running' : null },
    h('th', { scope: 'row', class: 'num' }, String(r.n), r.n === running ? h('div', { class: 'tag ok' }, 'running') : null),
    h('td', {}, when(r.time)),
    h('td', {}, r.source, r.actor ? h('div', { class: 'muted' }, r.actor) : null),
    h('td', {}, r.reason || dash),
    h('td', {}, r.changes.length ? h('ul', { class: 'changes' }, r.changes.map((c) => h('li', {}, c))) : h('span', { class: 'muted' }, 'no routing change')),
    h('td', {}, canRollback ? h('button', { type: 'button', class: 'action', 'data-action': 'rollback', onclick: rollback,
      'aria-label': `Roll back to revision ${r.n}` }, 'Roll back…') : null));
}

function verifyBadge(v) {
  if (v.ok) {
    return h('p', { class: 'verify ok', 'data-verified': 'true' }, '✓ Audit chain verified',
      v.entries !== undefined ? `: ${v.entries} entries, seq ${v.first_seq}–${v.last_seq}, no gap` : '');
  }
  return h('p', { class: 'verify bad', 'data-verified': 'false' }, '✗ Audit chain does not verify',
    v.first_bad ? `: line ${v.first_bad.line}, seq ${v.first_bad.seq}: ${v.first_bad.reason}` : '');
}

function auditTable(entries) {
  return h('table', { class: 'audit' },
    h('caption', {}, `Audit log, newest first (${entries.length} shown)`),
    h('thead', {}, h('tr', {}, ['Seq', 'Time', 'Who', 'Action', 'On', 'Revision', 'Status', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, entries.slice().reverse().map((e) => h('tr', { 'data-seq': e.seq, 'data-audit-action': e.action },
      h('td', { class: 'num' }, String(e.seq)), h('td', {}, when(e.time)),
      h('td', {}, e.actor || dash, e.role ? h('span', { class: 'muted' }, ` (${e.role})`) : null),
      h('td', {}, e.action),
      h('td', {}, [e.tenant, e.model].filter(Boolean).join('/') || dash),
      h('td', { class: 'num' }, e.after_revision ? `${e.before_revision} → ${e.after_revision}` : dash),
      h('td', { class: 'num' }, h('span', { class: e.status >= 400 ? 'tag bad' : 'tag ok' }, String(e.status))),
      h('td', {}, e.reason || dash)))));
}

export default {
  title: 'History',
  mount(root, ctx) {
    const revs = h('div'), audit = h('div');
    root.append(h('h2', {}, 'Revisions'), revs, h('h2', {}, 'Audit log'), audit);
    let shown = '';
    const reload = async () => {
      const [routes, list, verify, entries] = await Promise.all([
        get('/admin/routes'), get('/admin/revisions?limit=30'),
        get('/admin/audit/verify').catch((e) => ({ error: e.message })), get('/admin/audit?limit=100').catch(() => null)]);
      if (!ctx.alive()) return;
      const sig = JSON.stringify([routes.revision, list.revisions.map((r) => r.n), verify, entries && entries.length && entries[entries.length - 1].seq]);
      if (sig === shown) return; // nothing new: keep focus where it is
      shown = sig;
      clear(revs).append(h('table', { class: 'revisions' },
        h('caption', {}, 'Routing revisions, newest first: what each changed against the one before'),
        h('thead', {}, h('tr', {}, ['Revision', 'Time', 'Source', 'Reason', 'Changes', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, list.revisions.map((r) => revisionRow(r, routes.revision, ctx, reload)))));
      clear(audit).append(verify.error ? h('p', { class: 'muted' }, `Verification unavailable: ${verify.error}`) : verifyBadge(verify),
        entries ? auditTable(entries) : h('p', { class: 'muted' }, 'No audit log on this gateway.'));
    };
    ctx.every(ctx.refresh * 2, reload);
  },
};
