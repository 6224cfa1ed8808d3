// Cluster overview: brokers, controllers, health, problem partitions.

import {api} from '../api.js';
import {h, replace, table, badge, card, errorBox, fmtNum, topicHref} from '../ui.js';

const healthKind = {ok: 'ok', degraded: 'warn', offline: 'bad'};

function partitionRows(title, rows, kind) {
  return h('section', {class: 'panel'},
    h('h2', {}, title, ' ', badge(String(rows.length), rows.length ? kind : 'ok')),
    table([
      {label: 'Topic', cell: r => h('a', {href: topicHref(r.topic)}, r.topic)},
      {label: 'Partition', num: true, cell: r => r.partition},
      {label: 'Leader', num: true, cell: r => r.leader < 0 ? 'none' : r.leader},
      {label: 'Replicas', cell: r => r.replicas.join(', ')},
      {label: 'ISR', cell: r => r.isr.join(', ') || 'none'},
    ], rows, 'None.'));
}

export async function render(ctx) {
  const body = h('div');
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('div', {}, h('h1', {}, 'Cluster overview'), h('div', {class: 'sub', id: 'bootstrap'}))),
    body);
  await ctx.every(5000, async () => {
    let c;
    try {
      c = await api.cluster();
    } catch (e) {
      replace(body, errorBox(e));
      throw e;
    }
    replace(document.getElementById('bootstrap'), 'via ' + c.bootstrap.join(', '));
    const fencedKnown = c.brokers.some(b => b.fenced !== undefined);
    replace(body,
      h('div', {class: 'cards'},
        h('div', {class: 'card'}, h('div', {class: 'label'}, 'Health'),
          h('div', {class: 'value', id: 'health'}, badge(c.health, healthKind[c.health] || ''))),
        card('Brokers', fmtNum(c.brokers.length)),
        card('Active controller', c.activeController < 0 ? 'unknown' : String(c.activeController)),
        card('Topics', fmtNum(c.topics)),
        card('Partitions', fmtNum(c.partitions)),
        card('Under-replicated', fmtNum(c.underReplicated.length)),
        card('Cluster ID', c.clusterId || '–', true)),
      c.problems.length ? h('div', {class: 'note'}, h('b', {}, 'Problems: '), c.problems.join('; ')) : null,
      h('section', {class: 'panel'},
        h('h2', {}, 'Brokers'),
        table([
          {label: 'ID', num: true, cell: b => String(b.id)},
          {label: 'Address', cls: 'mono', cell: b => `${b.host}:${b.port}`},
          {label: 'Roles', cls: 'wrap', cell: b => [
            badge('broker', 'info'), ' ',
            b.controller ? badge('controller', '') : null, ' ',
            b.activeController ? badge('active controller', 'ok') : null]},
          {label: 'Status', cell: b => !fencedKnown ? badge('registered', 'ok') : b.fenced ? badge('fenced', 'bad') : badge('online', 'ok')},
          {label: 'Leader of', num: true, cell: b => fmtNum(b.leaderOf)},
          {label: 'Replicas', num: true, cell: b => fmtNum(b.replicas)},
          {label: 'Rack', cell: b => b.rack || '–', cls: 'hide-narrow'},
        ], c.brokers, 'No brokers.', {id: 'brokers'}),
        c.controllers ? h('p', {class: 'muted'}, 'Metadata quorum voters: ', c.controllers.join(', ')) : null),
      h('div', {class: 'grid2'},
        partitionRows('Under-replicated partitions', c.underReplicated, 'warn'),
        partitionRows('Offline partitions', c.offline, 'bad')));
  });
}
