// Rollouts: each rollout's steps with the current one highlighted, each
// gate's value against its threshold and its verdict, approvals given and
// needed, and the actions the signed-in role may take in this state.
import { atLeast, enc, get, post } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { dash, h, num, pct, when } from '../dom.js';

const GATES = {
  max_error_rate_increase: { name: 'Error rate increase', fmt: (x) => pct(x, 2), cmp: '≤' },
  max_p99_ratio: { name: 'p99 ratio', fmt: (x) => (typeof x === 'number' ? x.toFixed(2) + '×' : String(x)), cmp: '≤' },
  min_shadow_agreement: { name: 'Shadow agreement', fmt: (x) => pct(x, 2), cmp: '≥' },
  min_top1_agreement: { name: 'Top-1 agreement', fmt: (x) => pct(x, 2), cmp: '≥' },
};

function fmtGate(gate, x) {
  if (typeof x !== 'number') return x === undefined || x === null ? dash : String(x);
  return (GATES[gate] || { fmt: String }).fmt(x);
}

function stepLabel(s) {
  switch (s.kind) {
    case 'shadow': return `Shadow: compare ${num(s.min_requests)} answers`;
    case 'weight': return `Weight ${s.weight}%` + (s.min_requests ? `: hold ${num(s.min_requests)} requests` : '') +
      (s.min_duration_seconds ? `, at least ${s.min_duration_seconds} s` : '');
    case 'approve': return `Approval by ${s.approvals_required} approver${s.approvals_required === 1 ? '' : 's'}`;
    default: return s.kind;
  }
}

function steps(r) {
  const plan = r.plan || [];
  const done = r.state === 'completed';
  return h('ol', { class: 'steps', 'aria-label': 'Steps' }, plan.map((s, i) => {
    const current = i === r.step && !done;
    const cls = done || i < r.step ? 'done' : current ? 'current' : 'todo';
    return h('li', { class: cls, 'aria-current': current ? 'step' : null, 'data-step': i },
      h('span', { class: 'marker', 'aria-hidden': 'true' }, done || i < r.step ? '✓' : String(i + 1)),
      h('span', {}, stepLabel(s)), current ? h('span', { class: 'visually-hidden' }, ' (current step)') : null);
  }));
}

function verdicts(r) {
  if (!r.verdicts || !r.verdicts.length) return h('p', { class: 'muted' }, 'No look at this step yet.');
  return h('table', { class: 'gates' },
    h('caption', {}, `Gates at the last look (${r.looks} look${r.looks === 1 ? '' : 's'} at this step)`),
    h('thead', {}, h('tr', {}, ['Gate', 'Observed', 'Bounds', 'Threshold', 'Verdict'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, r.verdicts.map((v) => {
      const g = GATES[v.gate] || { name: v.gate, cmp: '' };
      return h('tr', { 'data-gate': v.gate },
        h('th', { scope: 'row' }, g.name),
        h('td', { class: 'num' }, fmtGate(v.gate, v.inputs.estimate)),
        h('td', { class: 'num' }, `${fmtGate(v.gate, v.inputs.lower)} … ${fmtGate(v.gate, v.inputs.upper)}`),
        h('td', { class: 'num' }, `${g.cmp} ${fmtGate(v.gate, v.inputs.threshold)}`),
        h('td', {}, h('span', { class: 'verdict ' + v.result, title: v.reason }, v.result), h('div', { class: 'muted small' }, v.reason)));
    })));
}

function counts(label, c) {
  return h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, num(c.requests)), h('td', { class: 'num' }, num(c.errors)),
    h('td', { class: 'num' }, c.compared ? `${num(c.matched)} / ${num(c.compared)}` : dash));
}

function info(r) {
  const weights = Object.entries(r.weights || {}).map(([v, w]) => `${v} ${w}`).join(', ');
  return [
    h('p', {},
      h('span', { class: 'tag phase ' + r.state, 'data-state': r.state }, r.state.replace('_', ' ')),
      ` step ${r.step + 1} of ${r.steps} (${r.step_kind}) for ${Math.round(r.time_in_step_seconds)} s · weights ${weights || dash}`,
      r.shadowing ? ' · shadowing' : '', r.reason ? h('span', { class: 'reason' }, ' — ' + r.reason) : null),
    steps(r),
    h('div', { class: 'cols' },
      verdicts(r),
      h('table', { class: 'window' },
        h('caption', {}, `This step's window since ${when(r.window.since)}`),
        h('thead', {}, h('tr', {}, ['', 'Requests', 'Errors', 'Matched'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, counts(`Canary ${r.canary}`, r.window.canary), counts(`Baseline ${r.baseline}`, r.window.baseline)))),
    r.approvals_required ? h('p', { class: 'approvals', 'data-approvals': (r.approvals || []).length },
      `Approvals: ${(r.approvals || []).length} of ${r.approvals_required}`,
      (r.approvals || []).map((a) => h('span', { class: 'tag' }, ` ${a.name} at ${when(a.time)}${a.comment ? ': “' + a.comment + '”' : ''}`))) : null,
  ];
}

// allowed lists the actions the role may take in the rollout's state
// (the API checks both again).
function allowed(r, who) {
  const out = [];
  const active = ['running', 'waiting_approval', 'paused'].includes(r.state);
  if (atLeast(who, 'approver') && r.state === 'waiting_approval') out.push('approve');
  if (atLeast(who, 'approver') && active) out.push('reject');
  // The API refuses a promote over a sign-off, and of a step not running or paused.
  if (atLeast(who, 'approver') && (r.state === 'running' || r.state === 'paused') && r.step_kind !== 'approve') out.push('promote');
  if (atLeast(who, 'operator') && (r.state === 'running' || r.state === 'waiting_approval')) out.push('pause');
  if (atLeast(who, 'operator') && r.state === 'paused') out.push('resume');
  if (atLeast(who, 'operator') && active) out.push('abort');
  if (atLeast(who, 'operator') && ['rolled_back', 'aborted', 'paused'].includes(r.state)) out.push('retry');
  return out;
}

const LABELS = { approve: 'Approve step', reject: 'Reject', promote: 'Promote to next step', pause: 'Pause', resume: 'Resume', abort: 'Abort', retry: 'Retry' };

function actions(r, ctx, refresh) {
  const list = allowed(r, ctx.who);
  if (!list.length) return null;
  const id = `comment-${r.tenant}-${r.model}`;
  const comment = h('textarea', { id, rows: 2, maxlength: 500 });
  const msg = h('p', { class: 'error', role: 'alert' });
  const act = async (op) => {
    msg.textContent = '';
    if (op === 'reject' && !comment.value.trim()) { msg.textContent = 'A rejection needs a comment.'; comment.focus(); return; }
    if (op === 'abort' && await confirmDialog({ title: `Abort the rollout of ${r.tenant}/${r.model}?`,
      text: 'Its weights go back to what they were before it started.', confirmLabel: 'Abort rollout' }) === null) return;
    try {
      await post(`/admin/rollouts/${enc(r.tenant)}/${enc(r.model)}/${op}`, comment.value.trim() ? { comment: comment.value.trim() } : undefined);
      comment.value = '';
      ctx.status(`${LABELS[op]}: done for ${r.tenant}/${r.model}.`);
      await refresh();
    } catch (e) { msg.textContent = `${LABELS[op]} refused: ${e.message}`; }
  };
  return h('div', { class: 'actions', role: 'group', 'aria-label': `Actions on ${r.tenant}/${r.model}` },
    h('label', { for: id }, 'Comment (required to reject)'), comment,
    h('div', { class: 'buttons' }, list.map((op) => h('button', {
      type: 'button', class: 'action' + (op === 'abort' || op === 'reject' ? ' danger' : op === 'approve' ? ' primary' : ''),
      'data-action': op, onclick: () => act(op),
    }, LABELS[op]))), msg);
}

export default {
  title: 'Rollouts',
  mount(root, ctx) {
    const body = h('div');
    root.append(h('p', { class: 'lede' }, 'Progressive releases: each step is judged on the canary\'s and the baseline\'s own traffic.'), body);
    const cards = new Map(); // tenant/model → {el, infoEl, sig}
    const refresh = async () => {
      const { rollouts } = await get('/admin/rollouts');
      if (!ctx.alive()) return;
      const seen = new Set();
      for (const r of rollouts) {
        const key = `${r.tenant}/${r.model}`;
        seen.add(key);
        let c = cards.get(key);
        if (!c) {
          c = { infoEl: h('div'), actEl: h('div'), sig: null };
          c.el = h('section', { class: 'card', 'data-rollout': key },
            h('h2', {}, `${r.tenant} / ${r.model}: ${r.canary} against ${r.baseline}`), c.infoEl, c.actEl);
          cards.set(key, c);
          body.append(c.el);
        }
        c.infoEl.replaceChildren(...info(r).filter(Boolean));
        const sig = allowed(r, ctx.who).join(',') + '|' + r.step; // keep a comment being typed while nothing changes
        if (sig !== c.sig) {
          c.sig = sig;
          c.actEl.replaceChildren(...[actions(r, ctx, refresh)].filter(Boolean));
        }
      }
      for (const [key, c] of cards) if (!seen.has(key)) { c.el.remove(); cards.delete(key); }
      if (!rollouts.length && !body.querySelector('.empty')) body.append(h('p', { class: 'empty' }, 'No rollout.'));
      if (rollouts.length) body.querySelector('.empty')?.remove();
    };
    ctx.every(ctx.refresh, refresh);
  },
};
