// Traffic: tenants → models → versions, each version's share as a bar,
// request rate, error share and p99 over the gateway's recent window
// (GET /admin/stats), endpoint health and breaker state.
import { get } from '../api.js';
import { clear, dash, h, ms, num, pct, rate, share } from '../dom.js';

function endpoints(list) {
  if (!list.length) return dash;
  return h('ul', { class: 'endpoints' }, list.map((e) => h('li', {},
    h('span', { class: e.up ? 'dot ok' : 'dot bad', 'aria-hidden': 'true' }),
    h('span', { class: 'url' }, e.url), ' ',
    h('span', { class: e.up ? 'tag ok' : 'tag bad' }, e.up ? 'up' : 'down'), ' ',
    h('span', { class: e.breaker === 'closed' ? 'tag' : 'tag bad' }, 'breaker ' + e.breaker.replace('_', '-')),
    e.in_flight ? h('span', { class: 'muted' }, ` ${e.in_flight} in flight`) : null)));
}

function bar(percent) {
  const fill = h('span', { class: 'fill' });
  fill.style.width = Math.max(0, Math.min(100, percent)) + '%'; // CSSOM: allowed by the CSP
  return h('span', { class: 'bar', role: 'img', 'aria-label': `${share(percent)} of traffic` }, fill);
}

function modelTable(tenant, m, stats, windowSeconds) {
  const caption = [`${tenant} / ${m.name}`];
  if (m.shadow) caption.push(` · shadowed to ${m.shadow}`);
  if (m.fallback) caption.push(` · fallback ${m.fallback}`);
  return h('table', { class: 'versions', 'data-model': `${tenant}/${m.name}` },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'Share'), h('th', { scope: 'col' }, 'Weight'),
      h('th', { scope: 'col', title: `over the last ${Math.round(windowSeconds)} s` }, 'Requests'),
      h('th', { scope: 'col' }, 'Errors'), h('th', { scope: 'col' }, 'p99'), h('th', { scope: 'col' }, 'Endpoints'))),
    h('tbody', {}, m.versions.map((v) => {
      const s = stats.get(`${tenant}/${m.name}/${v.name}`);
      const w = s && s.window;
      const total = (f) => (!s ? '' : s.total.requests ? `${f(s.total)} total` : 'no requests yet');
      return h('tr', { 'data-version': v.name },
        h('th', { scope: 'row' }, v.name, v.container_version ? h('span', { class: 'muted' }, ` (container ${v.container_version})`) : null),
        h('td', { class: 'share' }, bar(v.share_percent), h('span', { class: 'num', 'data-share': v.share_percent }, share(v.share_percent))),
        h('td', { class: 'num' }, h('span', { 'data-weight': v.weight }, String(v.weight)), h('span', { class: 'muted' }, ` ${v.weight_source}`)),
        h('td', { class: 'num' }, w ? rate(w.request_rate) : dash, h('div', { class: 'muted' }, total((c) => num(c.requests)))),
        h('td', { class: 'num' }, w ? pct(w.error_share, 2) : dash, h('div', { class: 'muted' }, s && s.total.requests ? `${pct(s.total.error_share, 2)} total` : '')),
        h('td', { class: 'num' }, w ? ms(w.p99_seconds) : dash, h('div', { class: 'muted' }, s && s.total.requests ? `${ms(s.total.p99_seconds)} total` : '')),
        h('td', {}, endpoints(s ? s.endpoints : v.endpoints.map((url) => ({ url, up: true, breaker: 'closed' })))));
    })));
}

export default {
  title: 'Traffic',
  mount(root, ctx) {
    const head = h('p', { class: 'lede' });
    const body = h('div', { 'aria-live': 'off' });
    root.append(head, body);
    ctx.every(ctx.refresh, async () => {
      const [routes, stats] = await Promise.all([get('/admin/routes'), get('/admin/stats')]);
      if (!ctx.alive()) return;
      const byKey = new Map(stats.versions.map((v) => [`${v.tenant}/${v.model}/${v.version}`, v]));
      head.replaceChildren(...[
        h('span', { 'data-revision': routes.revision }, `Revision ${routes.revision}`),
        ` (${routes.source}${routes.actor ? ' by ' + routes.actor : ''})`,
        routes.drift ? h('span', { class: 'tag warn' }, ' differs from the config file') : null,
        stats.window_seconds ? ` · rates, errors and p99 over the last ${Math.round(stats.window_seconds)} s; totals since start` :
          ' · rates appear after the next refresh',
      ].filter(Boolean));
      clear(body);
      if (!routes.tenants.length) body.append(h('p', {}, 'No tenants to show.'));
      for (const t of routes.tenants) {
        body.append(h('section', { class: 'tenant', 'data-tenant': t.name }, h('h2', {}, t.name),
          t.models.map((m) => modelTable(t.name, m, byKey, stats.window_seconds))));
      }
      ctx.status(`Traffic refreshed ${new Date().toLocaleTimeString(undefined, { hour12: false })}`);
    });
  },
};
