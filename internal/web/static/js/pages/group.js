// Consumer group detail: members and assignments, committed offsets and
// lag per partition, a lag-over-time chart sampled by this page, and
// offset resets for a group without members.

import {api} from '../api.js';
import {h, replace, table, card, errorBox, toast, fmtNum, localInputValue, topicHref} from '../ui.js';
import {lineChart} from '../chart.js';
import {stateBadge} from './groups.js';

// history keeps each group's lag samples for this browser session.
const history = new Map(); // group -> [{t, total, byTopic}]
const HistoryMs = 10 * 60 * 1000;

function resetForm(id, g, after) {
  const topics = [...new Set(g.partitions.map(p => p.topic))].sort();
  const err = h('div', {id: 'reset-error'});
  const topic = h('select', {id: 'reset-topic'}, topics.map(t => h('option', {value: t}, t)));
  const partition = h('input', {type: 'text', id: 'reset-partition', placeholder: 'all', class: 'narrow'});
  const to = h('select', {id: 'reset-to'}, ['earliest', 'latest', 'offset', 'timestamp'].map(v => h('option', {value: v}, v)));
  const offset = h('input', {type: 'number', id: 'reset-offset', min: 0, class: 'narrow', value: '0'});
  const ts = h('input', {type: 'datetime-local', id: 'reset-time', step: 1, value: localInputValue(Date.now() - 3600e3)});
  const offsetField = h('label', {class: 'field'}, 'Offset', offset);
  const timeField = h('label', {class: 'field'}, 'Time (local)', ts);
  const showTo = () => { offsetField.hidden = to.value !== 'offset'; timeField.hidden = to.value !== 'timestamp'; };
  to.addEventListener('change', showTo);
  showTo();
  const empty = g.state === 'Empty' || g.state === 'Dead';
  const submit = h('button', {class: 'primary', type: 'submit', id: 'reset-submit', disabled: !empty || !topics.length}, 'Reset offsets');
  return h('form', {class: 'panel', id: 'reset-form', onsubmit: async (e) => {
    e.preventDefault();
    replace(err);
    const req = {topic: topic.value, to: to.value};
    try {
      if (partition.value.trim() !== '' && partition.value.trim() !== 'all') {
        const n = Number(partition.value);
        if (!Number.isInteger(n) || n < 0) throw new Error('Partition must be a number or "all".');
        req.partition = n;
      }
      if (to.value === 'offset') req.offset = Number(offset.value);
      if (to.value === 'timestamp') {
        req.timestamp = new Date(ts.value).getTime();
        if (!isFinite(req.timestamp)) throw new Error('Pick a date and time.');
      }
      const r = await api.resetOffsets(id, req);
      toast(`Offsets of ${id} on ${r.topic} reset: ` + Object.entries(r.offsets).map(([p, o]) => `p${p}→${o}`).join(', '));
      await after();
    } catch (x) {
      replace(err, errorBox(x));
    }
  }},
  h('h2', {}, 'Reset offsets'),
  empty ? null : h('div', {class: 'note'}, `The group is ${g.state} with ${g.members.length} member(s). Stop its consumers to reset offsets.`),
  h('div', {class: 'toolbar'},
    h('label', {class: 'field'}, 'Topic', topic),
    h('label', {class: 'field'}, 'Partition', partition),
    h('label', {class: 'field'}, 'To', to),
    offsetField, timeField, submit),
  err);
}

export async function render(ctx, id) {
  const summary = h('div', {class: 'cards'});
  const chartBox = h('section', {class: 'panel', id: 'lag-chart'});
  const members = h('section', {class: 'panel'});
  const parts = h('section', {class: 'panel'});
  const resetBox = h('div');
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('div', {},
      h('div', {class: 'crumbs'}, h('a', {href: '#/groups'}, 'Consumer groups'), ' / '),
      h('h1', {id: 'group-id'}, id))),
    summary, chartBox, parts, members, resetBox);
  let lastState = null;
  const load = async () => {
    let g;
    try {
      g = await api.group(id);
    } catch (e) {
      replace(summary, errorBox(e));
      throw e;
    }
    const samples = history.get(id) || [];
    const byTopic = {};
    for (const p of g.partitions) if (p.lag > 0) byTopic[p.topic] = (byTopic[p.topic] || 0) + p.lag;
    if (!samples.length || samples[samples.length - 1].t !== g.time) samples.push({t: g.time, total: g.totalLag, byTopic});
    while (samples.length && samples[0].t < Date.now() - HistoryMs) samples.shift();
    history.set(id, samples);
    replace(summary,
      h('div', {class: 'card'}, h('div', {class: 'label'}, 'State'), h('div', {class: 'value', id: 'group-state'}, stateBadge(g.state))),
      card('Members', fmtNum(g.members.length)),
      h('div', {class: 'card'}, h('div', {class: 'label'}, 'Total lag'), h('div', {class: 'value', id: 'total-lag'}, fmtNum(g.totalLag))),
      card('Coordinator', String(g.coordinator)),
      card('Assignor', g.protocol || '–'));
    const topics = [...new Set(g.partitions.map(p => p.topic))].sort();
    const series = [{name: 'total lag', points: samples.map(s => [s.t, s.total])}];
    if (topics.length > 1) for (const t of topics.slice(0, 8)) series.push({name: t, points: samples.map(s => [s.t, s.byTopic[t] || 0])});
    replace(chartBox, h('h2', {}, 'Lag over time ', h('span', {class: 'muted'}, '(sampled by this page every 2 s while it is open)')),
      lineChart({series, window: Math.min(HistoryMs, Math.max(60000, Date.now() - samples[0].t)), width: chartBox.clientWidth - 32, unit: ''}));
    replace(parts, h('h2', {}, 'Offsets and lag'), table([
      {label: 'Topic', cls: 'wrap', cell: p => h('a', {href: topicHref(p.topic)}, p.topic)},
      {label: 'Partition', num: true, cell: p => String(p.partition)},
      {label: 'Committed', num: true, cell: p => p.committed < 0 ? 'none' : fmtNum(p.committed)},
      {label: 'End', num: true, cell: p => fmtNum(p.endOffset)},
      {label: 'Lag', num: true, cell: p => p.error ? h('span', {class: 'badge bad', title: p.error}, 'error') : fmtNum(p.lag)},
      {label: 'Member', cls: 'mono hide-narrow', cell: p => p.clientId ? `${p.clientId}` : '–'},
    ], g.partitions, 'The group has no committed offsets.', {id: 'group-partitions'}));
    replace(members, h('h2', {}, 'Members'), table([
      {label: 'Client ID', cell: m => m.clientId},
      {label: 'Host', cls: 'mono', cell: m => m.clientHost},
      {label: 'Assigned', cls: 'wrap', cell: m => m.assignments.map(a => `${a.topic}: ${a.partitions.join(', ')}`).join('; ') || '–'},
      {label: 'Member ID', cls: 'mono hide-narrow', cell: m => m.memberId},
    ], g.members, 'No members: the group is empty.', {id: 'group-members'}));
    // The reset form is rebuilt only when the state changes, so typing
    // in it is not interrupted by the refresh.
    if (g.state !== lastState) {
      lastState = g.state;
      replace(resetBox, resetForm(id, g, load));
    }
  };
  await ctx.every(2000, load);
}
