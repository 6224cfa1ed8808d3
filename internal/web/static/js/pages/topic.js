// Topic detail: partitions (leaders, replicas, ISR, offsets, sizes),
// configs with editing, and deletion with confirmation.

import {api} from '../api.js';
import {h, replace, table, badge, card, errorBox, toast, fmtNum, fmtBytes, confirmDialog, topicHref} from '../ui.js';

function configsSection(ctx, name, refresh) {
  const box = h('section', {class: 'panel', id: 'configs'});
  let showAll = ctx.query.get('all') === '1';
  let editing = null; // name of the config being edited
  let last = null;
  const draw = (t) => {
    last = t || last;
    if (!last) return;
    const all = h('input', {type: 'checkbox', id: 'show-all-configs', checked: showAll, onchange: (e) => { showAll = e.target.checked; draw(); }});
    const err = h('div', {id: 'config-error'});
    const rows = last.configs.filter(c => showAll || !c.default || c.name === editing);
    const edit = (c) => {
      if (editing !== c.name) {
        return h('div', {class: 'cfg-edit'},
          h('button', {class: 'small', 'data-config': c.name, onclick: () => { editing = c.name; draw(); }}, 'Edit'),
          !c.default ? h('button', {class: 'small', title: 'Back to the default', onclick: async () => {
            try {
              await api.alterConfigs(name, {delete: [c.name]});
              toast(`${c.name} reset to its default`);
              editing = null;
              await refresh();
            } catch (x) { replace(err, errorBox(x)); }
          }}, 'Reset') : null);
      }
      const input = h('input', {type: 'text', id: 'config-value', value: c.value ?? '', spellcheck: 'false'});
      const save = async (e) => {
        e.preventDefault();
        try {
          await api.alterConfigs(name, {set: {[c.name]: input.value}});
          toast(`${c.name} = ${input.value}`);
          editing = null;
          await refresh();
        } catch (x) { replace(err, errorBox(x)); }
      };
      setTimeout(() => input.focus(), 0);
      return h('form', {class: 'cfg-edit', onsubmit: save}, input,
        h('button', {class: 'small primary', type: 'submit', id: 'config-save'}, 'Save'),
        h('button', {class: 'small', type: 'button', onclick: () => { editing = null; draw(); }}, 'Cancel'));
    };
    replace(box,
      h('div', {class: 'toolbar'}, h('h2', {}, 'Configs'), h('label', {class: 'check'}, all, 'Show defaults too')),
      err,
      last.configsError ? errorBox(last.configsError) : null,
      table([
        {label: 'Name', cls: 'mono', cell: c => c.name},
        {label: 'Value', cls: 'mono wrap', cell: c => c.sensitive ? '(sensitive)' : (c.value ?? '(none)')},
        {label: 'Source', cls: 'hide-narrow', cell: c => c.default ? h('span', {class: 'muted'}, c.source.toLowerCase().replace(/_/g, ' ')) : badge('set on topic', 'info')},
        {label: '', cell: edit},
      ], rows, showAll ? 'No configs.' : 'Every config has its default value. Tick "Show defaults too" to see and edit them.', {id: 'configs-table'}));
  };
  return {box, draw};
}

export async function render(ctx, name) {
  const head = h('div', {class: 'page-head'},
    h('div', {}, h('div', {class: 'crumbs'}, h('a', {href: '#/topics'}, 'Topics'), ' / '), h('h1', {id: 'topic-name'}, name)),
    h('div', {class: 'toolbar'},
      h('a', {href: topicHref(name) + '/messages'}, h('button', {type: 'button', id: 'browse-messages'}, 'Browse messages')),
      h('button', {class: 'danger', id: 'delete-topic', onclick: () => confirmDialog({
        title: `Delete topic ${name}?`,
        body: 'Its partitions and every record in them are deleted on all brokers. This cannot be undone.',
        expect: name, action: 'Delete topic',
        onConfirm: async () => {
          await api.deleteTopic(name);
          toast(`Topic ${name} deleted`);
          location.hash = '#/topics';
        },
      })}, 'Delete topic')));
  const summary = h('div', {class: 'cards'});
  const parts = h('section', {class: 'panel'});
  const cfg = configsSection(ctx, name, async () => cfg.draw(await load()));
  replace(ctx.root, head, summary, parts, cfg.box);
  let first = true;
  const load = async () => {
    let t;
    try {
      t = await api.topic(name);
    } catch (e) {
      replace(parts, errorBox(e));
      throw e;
    }
    const sized = t.size !== undefined;
    const urp = t.partitions.filter(p => p.underReplicated).length;
    replace(summary,
      card('Partitions', fmtNum(t.partitions.length)),
      card('Replication factor', fmtNum(t.replicationFactor)),
      card('Messages', fmtNum(t.messages)),
      sized ? card('Size', fmtBytes(t.size)) : null,
      card('Under-replicated', fmtNum(urp)),
      card('Topic ID', t.id, true));
    replace(parts, h('h2', {}, 'Partitions'), table([
      {label: '#', num: true, cell: p => String(p.partition)},
      {label: 'Leader', num: true, cell: p => p.leader < 0 ? badge('offline', 'bad') : String(p.leader)},
      {label: 'Replicas', cell: p => p.replicas.join(', ')},
      {label: 'ISR', cell: p => [p.isr.join(', ') || 'none', p.underReplicated ? [' ', badge('under-replicated', 'warn')] : null]},
      {label: 'Start', num: true, cell: p => fmtNum(p.startOffset)},
      {label: 'End', num: true, cell: p => fmtNum(p.endOffset)},
      {label: 'Messages', num: true, cls: 'hide-narrow', cell: p => p.startOffset < 0 || p.endOffset < 0 ? '–' : fmtNum(p.endOffset - p.startOffset)},
      sized ? {label: 'Size', num: true, cell: p => fmtBytes(p.size)} : null,
      {label: '', cell: p => h('a', {href: `${topicHref(name)}/messages?partition=${p.partition}`}, 'messages')},
    ].filter(Boolean), t.partitions, 'No partitions.', {id: 'partitions-table'}));
    // Configs are redrawn when they change, not on every poll, so an
    // edit in progress is not disturbed.
    if (first) { first = false; cfg.draw(t); }
    return t;
  };
  await ctx.every(3000, async () => { await load(); });
}
