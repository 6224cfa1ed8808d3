// Live throughput: records per second per topic, from end offsets the
// page samples every few seconds (two samples make a rate).

import {api} from '../api.js';
import {h, replace, table, errorBox, fmtNum, fmtRate, topicHref} from '../ui.js';
import {lineChart} from '../chart.js';

const WindowMs = 5 * 60 * 1000;
// Kept across visits in this browser session.
const state = {last: null, rates: new Map()}; // topic -> [[t, rate]]

export async function render(ctx) {
  const chartBox = h('section', {class: 'panel', id: 'throughput-chart'});
  const list = h('section', {class: 'panel'});
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('div', {}, h('h1', {}, 'Throughput'),
      h('div', {class: 'sub'}, 'Records per second per topic, from end offsets sampled every 3 s while this page is open.'))),
    chartBox, list);
  await ctx.every(3000, async () => {
    let s;
    try {
      s = await api.throughput();
    } catch (e) {
      replace(list, errorBox(e));
      throw e;
    }
    const prev = state.last;
    if (prev && s.time > prev.time) {
      const old = new Map(prev.topics.map(t => [t.topic, t.endOffsets]));
      for (const t of s.topics) {
        if (!old.has(t.topic)) continue;
        const rate = Math.max(0, (t.endOffsets - old.get(t.topic)) * 1000 / (s.time - prev.time));
        const pts = state.rates.get(t.topic) || [];
        pts.push([s.time, rate]);
        while (pts.length && pts[0][0] < s.time - WindowMs) pts.shift();
        state.rates.set(t.topic, pts);
      }
    }
    if (!prev || s.time > prev.time) state.last = s;
    const live = new Set(s.topics.map(t => t.topic));
    for (const k of [...state.rates.keys()]) if (!live.has(k)) state.rates.delete(k);
    const current = (name) => { const p = state.rates.get(name); return p && p.length ? p[p.length - 1][1] : NaN; };
    const peak = (name) => Math.max(0, ...(state.rates.get(name) || []).map(p => p[1]));
    const busiest = s.topics.map(t => t.topic).sort((a, b) => peak(b) - peak(a)).slice(0, 8);
    const series = busiest.filter(n => state.rates.has(n)).map(n => ({name: n, points: state.rates.get(n)}));
    replace(chartBox, h('h2', {}, 'Records per second'),
      series.length ? lineChart({series, window: WindowMs, width: chartBox.clientWidth - 32, unit: '/s'})
        : h('p', {class: 'empty'}, 'Measuring… a rate needs two samples.'));
    replace(list, h('h2', {}, 'Topics'), table([
      {label: 'Topic', cls: 'wrap', cell: t => h('a', {href: topicHref(t.topic)}, t.topic)},
      {label: 'Now', num: true, cell: t => fmtRate(current(t.topic))},
      {label: 'Peak (5 min)', num: true, cls: 'hide-narrow', cell: t => state.rates.has(t.topic) ? fmtRate(peak(t.topic)) : '–'},
      {label: 'End offsets', num: true, cell: t => fmtNum(t.endOffsets)},
      {label: 'Partitions', num: true, cls: 'hide-narrow', cell: t => fmtNum(t.partitions)},
    ], s.topics.slice().sort((a, b) => (current(b.topic) || 0) - (current(a.topic) || 0) || a.topic.localeCompare(b.topic)),
    'No topics.', {id: 'throughput-table'}));
  });
}
