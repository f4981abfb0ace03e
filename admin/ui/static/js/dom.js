// Small DOM helpers. Text always goes in as text nodes, never as HTML, so
// nothing the API returns can inject markup.

// h builds an element: attrs are attributes (on* functions become event
// listeners, "class" the class name, booleans toggle the attribute),
// children are nodes, strings or arrays of them (null and false skipped).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// svg builds an SVG element (attributes only: no inline style).
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

// Formatting. "—" stands for "no data yet".
export const dash = '—';
export function pct(x, digits = 1) { return x === null || x === undefined ? dash : (100 * x).toFixed(digits) + '%'; }
export function share(p) { return (Math.round(p * 10) / 10) + '%'; }
export function ms(seconds) {
  if (seconds === null || seconds === undefined) return dash;
  const m = seconds * 1000;
  return (m < 10 ? m.toFixed(2) : m < 100 ? m.toFixed(1) : m.toFixed(0)) + ' ms';
}
export function rate(r) { return r === null || r === undefined ? dash : r.toFixed(r < 10 ? 1 : 0) + '/s'; }
export function when(t) {
  if (!t) return dash;
  const d = new Date(t);
  return d.toLocaleString(undefined, { hour12: false });
}
export function num(x) { return x === null || x === undefined ? dash : Number(x).toLocaleString(); }
