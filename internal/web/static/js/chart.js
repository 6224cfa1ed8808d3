// A small SVG line chart: series of [time ms, value] points over a time
// window, with a y axis starting at 0 and a legend.

import {h, fmtClock} from './ui.js';

export const palette = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#b7791f', '#e53e3e', '#4a5568', '#3182ce'];

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function shortNum(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + 'k';
  return String(v >= 10 ? Math.round(v) : Math.round(v * 10) / 10);
}

// lineChart({series: [{name, points}], window: ms, height, unit}) -> element
export function lineChart({series, window = 5 * 60 * 1000, height = 220, unit = '', now = Date.now(), width}) {
  const w = Math.max(280, Math.floor(width || 640));
  const pad = {l: 48, r: 12, t: 10, b: 24};
  const x0 = now - window, x1 = now;
  let ymax = 0;
  for (const s of series) for (const [, v] of s.points) ymax = Math.max(ymax, v);
  ymax = niceMax(ymax * 1.05);
  const X = (t) => pad.l + (t - x0) / (x1 - x0) * (w - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - v / ymax) * (height - pad.t - pad.b);
  const svg = h('svg', {width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': 'chart'});
  for (let i = 0; i <= 4; i++) {
    const v = ymax * i / 4, y = Y(v);
    svg.append(h('line', {class: 'grid', x1: pad.l, x2: w - pad.r, y1: y, y2: y}));
    svg.append(h('text', {class: 'axis', x: pad.l - 6, y: y + 4, 'text-anchor': 'end'}, shortNum(v) + unit));
  }
  const ticks = w < 420 ? 3 : 5;
  for (let i = 0; i <= ticks; i++) {
    const t = x0 + (x1 - x0) * i / ticks;
    svg.append(h('text', {class: 'axis', x: X(t), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle'}, fmtClock(t)));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= x0 - 60000);
    if (!pts.length) return;
    const color = s.color || palette[i % palette.length];
    svg.append(h('polyline', {fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round',
      points: pts.map(([t, v]) => `${X(Math.max(t, x0)).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}));
    const [lt, lv] = pts[pts.length - 1];
    svg.append(h('circle', {cx: X(lt), cy: Y(lv), r: 3, fill: color}));
  });
  const legend = h('div', {class: 'legend'}, series.map((s, i) => {
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    const sw = h('i');
    sw.style.background = s.color || palette[i % palette.length];
    return h('span', {}, sw, s.name, last === null ? '' : h('span', {class: 'muted'}, ' ' + shortNum(last) + unit));
  }));
  return h('div', {class: 'chart'}, svg, series.length ? legend : h('p', {class: 'empty'}, 'No data yet.'));
}
