// Line charts drawn as SVG by hand (no charting framework): a series of {t: Date, y: number|null}
// over time, gaps where y is null, labelled for screen readers.
import { s, uid } from './dom.js';

const W = 600;
const H = 180;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function niceMax(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

function timeLabel(t, spanMs) {
  return spanMs > 2 * 86400e3
    ? t.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
    : t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * lines: [{name, cls, points: [{t, y}]}] sharing one time axis; opts: {title, yMax?, format}.
 * Returns an <svg role="img"> whose title and description say what it shows.
 */
export function lineChart(lines, { title, yMax, format = String }) {
  const all = lines.flatMap((l) => l.points);
  const t0 = all.length ? all[0].t.getTime() : 0;
  const t1 = all.length ? all[all.length - 1].t.getTime() : 1;
  const span = Math.max(1, t1 - t0);
  const values = all.map((p) => p.y).filter((y) => y !== null && y !== undefined);
  const top = yMax ?? niceMax(Math.max(0, ...values));
  const x = (t) => PAD.left + ((t.getTime() - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);

  const titleId = uid('chart');
  const descId = uid('chart-desc');
  const summary = lines.map((l) => {
    const known = l.points.filter((p) => p.y !== null && p.y !== undefined);
    if (known.length === 0) return `${l.name}: no data`;
    const last = known[known.length - 1];
    return `${l.name}: latest ${format(last.y)}, highest ${format(Math.max(...known.map((p) => p.y)))}`;
  }).join('; ');

  const grid = [0, 0.5, 1].map((f) => [
    s('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(top * f), y2: y(top * f) }),
    s('text', { class: 'axis', x: PAD.left - 6, y: y(top * f) + 4, 'text-anchor': 'end' }, format(top * f)),
  ]);
  const ticks = all.length
    ? [t0, t0 + span / 2, t1].map((t, i) => s('text', {
      class: 'axis', x: x(new Date(t)), y: H - 8, 'text-anchor': ['start', 'middle', 'end'][i],
    }, timeLabel(new Date(t), span)))
    : [];

  const drawn = lines.map((l) => {
    let d = '';
    let pen = false;
    for (const p of l.points) {
      if (p.y === null || p.y === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)} `;
      pen = true;
    }
    const dots = l.points.filter((p) => p.y !== null && p.y !== undefined).map((p) =>
      s('circle', { class: `dot ${l.cls}`, cx: x(p.t).toFixed(1), cy: y(p.y).toFixed(1), r: 2.5 },
        s('title', null, `${l.name} ${format(p.y)} at ${p.t.toLocaleString()}`)));
    return s('g', null, d ? s('path', { class: `line ${l.cls}`, d: d.trim() }) : null, dots);
  });

  return s('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-labelledby': `${titleId} ${descId}`, preserveAspectRatio: 'xMidYMid meet',
  },
  s('title', { id: titleId }, title),
  s('desc', { id: descId }, summary),
  grid, ticks,
  s('line', { class: 'axis-line', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }),
  drawn);
}

/** The chart's legend: real text beside a swatch of each line's class. */
export function legend(lines) {
  return lines.map((l) => [s('svg', { class: 'swatch', viewBox: '0 0 12 12', 'aria-hidden': 'true' },
    s('rect', { class: l.cls, width: 12, height: 12 })), ` ${l.name} `]);
}
