// A small line chart of 0–1 values over time, as SVG: one polyline per
// series, a 0–100% axis, an accessible name with the latest values.
import { svg } from './dom.js';

const W = 320, H = 90, PAD = 4;

// lineChart draws series [{name, cls, points: [[t, v]]}] (v in 0–1, null
// for no value) between lo and 1 on the y axis; lo drops to 0 when a value
// is below it, so that no line is drawn off scale.
export function lineChart(label, series, lo = 0) {
  const all = series.flatMap((s) => s.points).filter((p) => p[1] !== null);
  if (all.some((p) => p[1] < lo)) lo = 0;
  const t0 = all.length ? Math.min(...all.map((p) => p[0])) : 0;
  const t1 = all.length ? Math.max(...all.map((p) => p[0])) : 1;
  const x = (t) => PAD + (W - 2 * PAD) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
  const y = (v) => H - PAD - (H - 2 * PAD) * ((Math.max(lo, v) - lo) / (1 - lo));
  const el = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  for (const g of [lo, (1 + lo) / 2, 1]) {
    el.append(svg('line', { x1: PAD, x2: W - PAD, y1: y(g), y2: y(g), class: 'grid' }));
    const tx = svg('text', { x: W - PAD, y: g === 1 ? y(g) + 10 : y(g) - 2, class: 'axis', 'text-anchor': 'end' });
    tx.textContent = Math.round(g * 100) + '%';
    el.append(tx);
  }
  for (const s of series) {
    const pts = s.points.filter((p) => p[1] !== null).map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
    if (pts.length === 1) pts.push(pts[0]);
    if (pts.length) el.append(svg('polyline', { points: pts.join(' '), class: 'line ' + s.cls }));
  }
  return el;
}
