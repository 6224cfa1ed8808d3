// Consumer groups: list with state, members and lag.

import {api} from '../api.js';
import {h, replace, table, badge, errorBox, fmtNum, groupHref} from '../ui.js';

export function stateBadge(state) {
  const kind = {Stable: 'ok', Empty: '', Dead: 'bad', PreparingRebalance: 'warn', CompletingRebalance: 'warn'}[state] ?? '';
  return badge(state || 'unknown', kind);
}

export async function render(ctx) {
  const list = h('div');
  replace(ctx.root, h('div', {class: 'page-head'}, h('h1', {}, 'Consumer groups')), h('section', {class: 'panel'}, list));
  await ctx.every(3000, async () => {
    let r;
    try {
      r = await api.groups();
    } catch (e) {
      replace(list, errorBox(e));
      throw e;
    }
    replace(list, table([
      {label: 'Group', cls: 'wrap', cell: g => h('a', {href: groupHref(g.group)}, g.group)},
      {label: 'State', cell: g => stateBadge(g.state)},
      {label: 'Members', num: true, cell: g => fmtNum(g.members)},
      {label: 'Topics', cls: 'wrap hide-narrow', cell: g => g.topics.join(', ') || '–'},
      {label: 'Lag', num: true, cell: g => g.error ? badge('error', 'bad') : g.lag === undefined ? '–' : fmtNum(g.lag)},
      {label: 'Coordinator', num: true, cls: 'hide-narrow', cell: g => String(g.coordinator)},
    ], r.groups, 'No consumer groups.', {id: 'groups-table'}));
  });
}
