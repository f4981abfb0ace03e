// A modal confirmation with an optional reason, on the native <dialog>
// (focus is trapped, Escape cancels).
import { h } from './dom.js';

// confirmDialog resolves to the reason typed ("" without a reason field)
// when confirmed, or null when cancelled.
export function confirmDialog({ title, text, confirmLabel, reasonLabel, reasonRequired = false }) {
  return new Promise((resolve) => {
    const reason = reasonLabel ? h('input', { id: 'dialog-reason', type: 'text', maxlength: 500, required: reasonRequired }) : null;
    const err = h('p', { class: 'error', role: 'alert' });
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'dialog-title' });
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    const form = h('form', { method: 'dialog', onsubmit: (ev) => {
      ev.preventDefault();
      if (reason && reasonRequired && !reason.value.trim()) { err.textContent = 'A reason is required.'; reason.focus(); return; }
      done(reason ? reason.value.trim() : '');
    } },
    h('h2', { id: 'dialog-title' }, title), h('p', {}, text),
    reason ? [h('label', { for: 'dialog-reason' }, reasonLabel), reason] : null, err,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => done(null) }, 'Cancel'),
      h('button', { type: 'submit', class: 'action danger', 'data-confirm': 'yes' }, confirmLabel)));
    dlg.append(form);
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(null); });
    document.body.append(dlg);
    dlg.showModal();
    (reason || form.querySelector('button')).focus();
  });
}
