// Change weights: pick a model, set each version's weight, preview what
// changes and the share of sticky users who would switch version
// (POST .../weights/plan), then apply (PUT .../weights, operator).
import { atLeast, enc, get, post, put } from '../api.js';
import { clear, h, pct, share } from '../dom.js';

export default {
  title: 'Change weights',
  mount(root, ctx) {
    const pick = h('select', { id: 'weights-model' });
    const form = h('form', { class: 'weights', autocomplete: 'off' });
    const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
    const msg = h('p', { class: 'error', role: 'alert' });
    root.append(h('p', { class: 'lede' }, 'Weights are relative: each version gets its weight over the sum. A preview applies nothing.'),
      h('div', { class: 'field' }, h('label', { for: 'weights-model' }, 'Model'), pick), form, msg, preview);
    let routes = null, owned = new Set(), planned = null;

    const model = () => {
      const [t, m] = pick.value.split('/');
      return { tenant: t, mv: routes.tenants.find((x) => x.name === t)?.models.find((x) => x.name === m) };
    };
    const values = () => Object.fromEntries([...form.querySelectorAll('input[data-version]')].map((i) => [i.dataset.version, Number(i.value)]));

    const draw = () => {
      const { tenant, mv } = model();
      planned = null;
      clear(preview); msg.textContent = '';
      clear(form);
      if (!mv) return;
      const isOwned = owned.has(`${tenant}/${mv.name}`);
      form.append(...[h('fieldset', {}, h('legend', {}, `Weights of ${tenant} / ${mv.name}`),
        mv.versions.map((v) => h('div', { class: 'field' },
          h('label', { for: `w-${v.name}` }, `${v.name}`, h('span', { class: 'muted' }, ` now ${v.weight} (${share(v.share_percent)})`)),
          h('input', { id: `w-${v.name}`, type: 'number', min: 0, step: 1, required: true, value: v.weight, 'data-version': v.name, inputmode: 'numeric' })))),
      h('div', { class: 'field' }, h('label', { for: 'weights-reason' }, 'Reason (recorded with the revision)'),
        h('input', { id: 'weights-reason', type: 'text', maxlength: 500 })),
      isOwned ? h('p', { class: 'tag warn' }, 'A rollout owns these weights: pause, abort or finish it first (Rollouts).') : null,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', 'data-preview': 'yes' }, 'Preview'),
        atLeast(ctx.who, 'operator') && !isOwned ? h('button', { type: 'button', class: 'action primary', 'data-action': 'apply-weights', disabled: true, onclick: apply }, 'Apply') : null)]
        .filter(Boolean));
      form.querySelectorAll('input[data-version]').forEach((i) => i.addEventListener('input', () => {
        planned = null; const b = form.querySelector('[data-action=apply-weights]'); if (b) b.disabled = true;
      }));
    };

    const doPreview = async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      const { tenant, mv } = model();
      const w = values();
      try {
        const p = await post(`/admin/tenants/${enc(tenant)}/models/${enc(mv.name)}/weights/plan`, { weights: w });
        planned = JSON.stringify(w);
        const total = Object.values(w).reduce((a, b) => a + b, 0);
        clear(preview).append(h('h2', {}, 'Preview'), h('h3', {}, 'Shares'),
          h('ul', {}, Object.entries(w).map(([v, x]) => h('li', {}, `${v}: ${x} → ${share(total ? 100 * x / total : 0)} of traffic`))),
          h('h3', {}, 'Routing changes'),
          p.changes.length ? h('ul', { class: 'changes' }, p.changes.map((c) => h('li', {}, c))) : h('p', {}, 'No change against the running routing.'),
          p.sticky_header
            ? h('p', { class: 'sticky', 'data-switch-share': p.switch_share },
              h('strong', {}, pct(p.switch_share, 2)), ` of sticky users (by ${p.sticky_header}) would switch version`,
              p.flows.length ? h('ul', {}, p.flows.map((f) => h('li', {}, `${pct(f.share, 2)} move ${f.from} → ${f.to}`))) : null)
            : h('p', { class: 'sticky', 'data-switch-share': 0 }, 'The model is not sticky: each request is routed on its own.'));
        const b = form.querySelector('[data-action=apply-weights]');
        if (b) b.disabled = false;
      } catch (e) { msg.textContent = `Preview refused: ${e.message}${e.body && e.body.path ? ' (' + e.body.path + ')' : ''}`; }
    };
    form.addEventListener('submit', doPreview);

    async function apply() {
      const { tenant, mv } = model();
      const w = values();
      if (planned !== JSON.stringify(w)) { msg.textContent = 'Preview the change first.'; return; }
      try {
        const r = await put(`/admin/tenants/${enc(tenant)}/models/${enc(mv.name)}/weights`,
          { weights: w, reason: form.querySelector('#weights-reason').value.trim() }, { ifMatch: routes.revision });
        ctx.status(`Weights of ${tenant}/${mv.name} applied: revision ${r.n}.`);
        await load();
        clear(preview).append(h('p', { class: 'ok', 'data-applied': r.n }, `Applied as revision ${r.n}.`));
      } catch (e) {
        msg.textContent = e.status === 412 ? 'The routing changed since you loaded it: check the new weights and preview again.' : `Not applied: ${e.message}`;
        if (e.status === 412) await load();
      }
    }

    const load = async () => {
      const keep = pick.value;
      const [r, ro] = await Promise.all([get('/admin/routes'), get('/admin/rollouts').catch(() => ({ rollouts: [] }))]);
      routes = r;
      owned = new Set(ro.rollouts.filter((x) => ['running', 'waiting_approval', 'paused'].includes(x.state)).map((x) => `${x.tenant}/${x.model}`));
      clear(pick).append(...routes.tenants.flatMap((t) => t.models.map((m) => h('option', { value: `${t.name}/${m.name}` }, `${t.name} / ${m.name}`))));
      if (keep && [...pick.options].some((o) => o.value === keep)) pick.value = keep;
      draw();
    };
    pick.addEventListener('change', draw);
    load().catch((e) => ctx.status(e.message));
  },
};
