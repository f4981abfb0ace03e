// Shadow: per shadowed model, agreement and top-1 agreement over time (a
// small chart of the rates GET /admin/shadow reports, sampled while the
// console is open), counts, latency, and the latest mismatches with their
// field paths.
import { get } from '../api.js';
import { lineChart } from '../chart.js';
import { clear, dash, h, num, pct, when } from '../dom.js';

// history keeps each shadow's sampled rates across view switches (at most
// MAX points, about 10 minutes at one sample every 3 s).
const history = new Map();
const MAX = 200;

function sample(s) {
  const key = `${s.tenant}/${s.model}/${s.version}`;
  const pts = history.get(key) || [];
  pts.push([Date.now(), s.agreement_rate, s.top1_agreement_rate]);
  if (pts.length > MAX) pts.shift();
  history.set(key, pts);
  return pts;
}

// short shows a numeric value to 6 significant digits (the API sends the
// values as text, in full).
function short(v) {
  const x = Number(v);
  return v !== '' && Number.isFinite(x) && String(v).length > 8 ? String(Number(x.toPrecision(6))) : v;
}

function mismatches(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No mismatch yet.');
  return h('table', { class: 'mismatches' },
    h('caption', {}, 'Latest mismatches, newest first'),
    h('thead', {}, h('tr', {}, ['Time', 'Request', 'Max |Δ|', 'Top-1', 'Fields that differ (primary → shadow)'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, list.slice(0, 10).map((m) => h('tr', {},
      h('td', {}, when(m.time)),
      h('td', { class: 'mono' }, m.request_id || dash),
      h('td', { class: 'num' }, m.max_abs_diff >= 1e300 ? '∞' : m.max_abs_diff.toPrecision(3)),
      h('td', {}, m.top1_agree === undefined || m.top1_agree === null ? dash : m.top1_agree ? 'same' : h('span', { class: 'tag bad' }, 'flipped')),
      h('td', {}, h('ul', { class: 'diffs' }, m.diffs.map((d) => h('li', {},
        h('code', {}, d.path), ` ${short(d.primary)} → ${short(d.shadow)}`))),
      m.diff_count > m.diffs.length ? h('span', { class: 'muted' }, `${m.diff_count - m.diffs.length} more`) : null)))));
}

function card(s) {
  const pts = sample(s);
  const label = `Agreement of ${s.tenant}/${s.model} → ${s.version}: ${pct(s.agreement_rate)}, top-1 ${pct(s.top1_agreement_rate)}`;
  const compared = (s.outcomes.match || 0) + (s.outcomes.mismatch || 0);
  return h('section', { class: 'card', 'data-shadow': `${s.tenant}/${s.model}` },
    h('h2', {}, `${s.tenant} / ${s.model} → ${s.version}`, h('span', { class: 'muted' }, ` · ${s.percent}% of requests copied`)),
    h('div', { class: 'cols' },
      h('dl', { class: 'facts' },
        h('dt', {}, 'Agreement'), h('dd', { class: 'big', 'data-agreement': s.agreement_rate ?? '' }, pct(s.agreement_rate, 2)),
        h('dt', {}, 'Top-1 agreement'), h('dd', { class: 'big' }, pct(s.top1_agreement_rate, 2)),
        h('dt', {}, 'Compared'), h('dd', {}, `${num(compared)} (top-1: ${num(s.top1_compared)})`),
        h('dt', {}, 'Shadow errors'), h('dd', {}, num(s.outcomes.shadow_error || 0)),
        h('dt', {}, 'Dropped'), h('dd', {}, num(Object.values(s.dropped_by_reason).reduce((a, b) => a + b, 0))),
        h('dt', {}, 'Latency p50'), h('dd', {}, s.latency.samples ? `${s.latency.primary_p50_ms} ms primary, ${s.latency.shadow_p50_ms} ms shadow` : dash),
        h('dt', {}, 'Tolerance'), h('dd', {}, `${s.tolerance} absolute, ${s.relative_tolerance} relative`)),
      h('figure', {},
        lineChart(label, [
          { name: 'agreement', cls: 'a', points: pts.map((p) => [p[0], p[1]]) },
          { name: 'top-1', cls: 'b', points: pts.map((p) => [p[0], p[2]]) },
        ], 0.5),
        h('figcaption', {}, h('span', { class: 'key a' }, 'agreement'), ' ', h('span', { class: 'key b' }, 'top-1 agreement'),
          ' since the shadow started, sampled every 3 s while this page is open'))),
    mismatches(s.last_mismatches));
}

export default {
  title: 'Shadow',
  mount(root, ctx) {
    const body = h('div');
    root.append(h('p', { class: 'lede' }, 'Copies of live requests sent to a shadow version; answers compared field by field with the primary\'s.'), body);
    ctx.every(ctx.refresh, async () => {
      const view = await get('/admin/shadow');
      if (!ctx.alive()) return;
      clear(body);
      if (!view.shadows.length) body.append(h('p', {}, 'No model is shadowed.'));
      for (const s of view.shadows) body.append(card(s));
    });
  },
};
