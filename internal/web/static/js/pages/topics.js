// Topics: list with a filter, and the create form.

import {api} from '../api.js';
import {h, replace, table, badge, errorBox, toast, fmtNum, fmtBytes, topicHref} from '../ui.js';

// parseConfigs reads "name=value" lines.
export function parseConfigs(text) {
  const out = {};
  text.split('\n').forEach((line, i) => {
    line = line.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Config line ${i + 1} ("${line}") is not name=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return out;
}

function createForm(onCreated) {
  const err = h('div');
  const name = h('input', {type: 'text', id: 'new-topic-name', required: true, placeholder: 'orders', autocomplete: 'off', spellcheck: 'false'});
  const parts = h('input', {type: 'number', id: 'new-topic-partitions', min: 1, placeholder: 'default', class: 'narrow'});
  const rf = h('input', {type: 'number', id: 'new-topic-rf', min: 1, placeholder: 'default', class: 'narrow'});
  const configs = h('textarea', {id: 'new-topic-configs', placeholder: 'retention.ms=86400000\ncleanup.policy=compact', rows: 2});
  const submit = h('button', {class: 'primary', type: 'submit', id: 'create-topic'}, 'Create topic');
  const form = h('form', {class: 'panel', id: 'create-topic-form', onsubmit: async (e) => {
    e.preventDefault();
    replace(err);
    const req = {name: name.value.trim()};
    try {
      if (parts.value !== '') req.partitions = Number(parts.value);
      if (rf.value !== '') req.replicationFactor = Number(rf.value);
      const cfg = parseConfigs(configs.value);
      if (Object.keys(cfg).length) req.configs = cfg;
      if (!req.name) throw new Error('Give the topic a name.');
      submit.disabled = true;
      await api.createTopic(req);
      toast(`Topic ${req.name} created`);
      form.reset();
      onCreated(req.name);
    } catch (x) {
      replace(err, errorBox(x));
    } finally {
      submit.disabled = false;
    }
  }},
  h('h2', {}, 'Create a topic'),
  h('div', {class: 'toolbar'},
    h('label', {class: 'field grow'}, 'Name', name),
    h('label', {class: 'field'}, 'Partitions', parts),
    h('label', {class: 'field'}, 'Replication factor', rf),
    h('label', {class: 'field grow'}, 'Configs (name=value per line, optional)', configs),
    submit),
  err);
  return form;
}

export async function render(ctx) {
  const list = h('div');
  const filter = h('input', {type: 'search', id: 'topic-filter', placeholder: 'Filter topics', value: ctx.query.get('q') || ''});
  const internal = h('input', {type: 'checkbox', id: 'show-internal', checked: ctx.query.get('internal') === '1'});
  let last = null;
  const draw = () => {
    if (!last) return;
    const q = filter.value.trim().toLowerCase();
    const rows = last.topics.filter(t => (internal.checked || !t.internal) && (!q || t.name.toLowerCase().includes(q)));
    const sized = last.topics.some(t => t.size !== undefined);
    replace(list, table([
      {label: 'Topic', cls: 'wrap', cell: t => h('a', {href: topicHref(t.name)}, t.name)},
      {label: 'Partitions', num: true, cell: t => fmtNum(t.partitions)},
      {label: 'RF', num: true, cell: t => fmtNum(t.replicationFactor), cls: 'hide-narrow'},
      {label: 'Messages', num: true, cell: t => fmtNum(t.messages)},
      sized ? {label: 'Size', num: true, cell: t => fmtBytes(t.size)} : null,
      {label: 'Status', cell: t => t.error ? badge('error', 'bad') : t.offline ? badge(`${t.offline} offline`, 'bad')
        : t.underReplicated ? badge(`${t.underReplicated} under-replicated`, 'warn') : badge('ok', 'ok')},
    ].filter(Boolean), rows, q ? 'No topic matches the filter.' : 'No topics yet: create one above.', {id: 'topics-table'}));
    ctx.setQuery(Object.assign({}, q ? {q} : {}, internal.checked ? {internal: '1'} : {}));
  };
  filter.addEventListener('input', draw);
  internal.addEventListener('change', draw);
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('h1', {}, 'Topics')),
    createForm(name => { location.hash = topicHref(name); }),
    h('section', {class: 'panel'},
      h('div', {class: 'toolbar'}, h('label', {class: 'field grow'}, 'Filter', filter), h('label', {class: 'check'}, internal, 'Show internal topics')),
      h('div', {class: 'spacer'}), list));
  await ctx.every(5000, async () => {
    try {
      last = await api.topics();
    } catch (e) {
      replace(list, errorBox(e));
      throw e;
    }
    draw();
  });
}
