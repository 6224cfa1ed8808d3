// Message browser: records of one topic by partition and offset or
// timestamp, newest first; key and value as text, JSON or hex; headers;
// a text filter. Each fetch is bounded by the server (records and time).

import {api} from '../api.js';
import {h, replace, errorBox, fmtNum, fmtTime, localInputValue, topicHref} from '../ui.js';

function bytesOf(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder('utf-8', {fatal: true});

function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.slice(i, i + 16), b => b.toString(16).padStart(2, '0'));
    const ascii = Array.from(bytes.slice(i, i + 16), b => b >= 32 && b < 127 ? String.fromCharCode(b) : '.').join('');
    lines.push(i.toString(16).padStart(6, '0') + '  ' + row.join(' ').padEnd(48) + '  ' + ascii);
  }
  return lines.join('\n');
}

// show renders bytes (base64, or null) in the chosen format; returns
// [text, note].
export function show(b64, format) {
  if (b64 === null || b64 === undefined) return [null, ''];
  const bytes = bytesOf(b64);
  if (format === 'hex') return [hexDump(bytes), ''];
  let text;
  try { text = utf8.decode(bytes); } catch (e) { return [hexDump(bytes), format === 'auto' ? '' : 'not UTF-8: shown as hex']; }
  const printable = !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  if (format === 'json' || (format === 'auto' && /^\s*[[{"]/.test(text))) {
    try { return [JSON.stringify(JSON.parse(text), null, 2), '']; } catch (e) {
      if (format === 'json') return [text, 'not JSON: shown as text'];
    }
  }
  if (format === 'auto' && !printable) return [hexDump(bytes), ''];
  return [text, ''];
}

function valueBlock(label, b64, size, truncated, format) {
  const [text, note] = show(b64, format);
  return [
    h('span', {}, label),
    h('div', {},
      text === null ? h('pre', {class: 'null'}, 'null') : h('pre', {class: 'v-' + label.toLowerCase()}, text === '' ? ' ' : text),
      note || truncated ? h('div', {class: 'muted'}, [note, truncated ? `first 16 KiB of ${fmtNum(size)} bytes` : ''].filter(Boolean).join('; ')) : null),
  ];
}

function recordCard(r, format) {
  return h('article', {class: 'record', 'data-offset': r.offset, 'data-partition': r.partition},
    h('div', {class: 'meta'},
      h('span', {}, 'partition ', h('b', {}, String(r.partition))),
      h('span', {}, 'offset ', h('b', {class: 'offset'}, String(r.offset))),
      h('span', {}, h('b', {}, fmtTime(r.timestamp))),
      h('span', {}, fmtNum(r.valueSize), ' B')),
    h('div', {class: 'kv'},
      valueBlock('Key', r.key, r.keySize, r.keyTruncated, format),
      valueBlock('Value', r.value, r.valueSize, r.valueTruncated, format),
      r.headers.length ? [h('span', {}, 'Headers'), h('div', {}, r.headers.map(hd => {
        const [t] = show(hd.value, format === 'hex' ? 'hex' : 'text');
        return h('pre', {}, hd.key + ': ' + (t ?? 'null'));
      }))] : null));
}

export async function render(ctx, topic) {
  const q = ctx.query;
  const t = await api.topic(topic);
  const partition = h('select', {id: 'm-partition'},
    h('option', {value: 'all'}, 'All partitions'),
    t.partitions.map(p => h('option', {value: String(p.partition), selected: q.get('partition') === String(p.partition)}, `Partition ${p.partition}`)));
  const mode = h('select', {id: 'm-mode'},
    h('option', {value: 'newest'}, 'Newest'),
    h('option', {value: 'offset', selected: q.get('mode') === 'offset'}, 'From offset'),
    h('option', {value: 'timestamp', selected: q.get('mode') === 'timestamp'}, 'From time'));
  const offset = h('input', {type: 'number', id: 'm-offset', min: 0, class: 'narrow', value: q.get('offset') || '0'});
  const ts = h('input', {type: 'datetime-local', id: 'm-time', step: 1, value: q.get('ts') ? localInputValue(Number(q.get('ts'))) : localInputValue(Date.now() - 3600e3)});
  const limit = h('select', {id: 'm-limit'}, [20, 50, 100, 200, 500].map(n => h('option', {value: String(n), selected: (q.get('limit') || '50') === String(n)}, String(n))));
  const filter = h('input', {type: 'search', id: 'm-filter', placeholder: 'text in key, value or headers', value: q.get('filter') || ''});
  const format = h('select', {id: 'm-format'}, ['auto', 'text', 'json', 'hex'].map(f => h('option', {value: f, selected: (q.get('format') || 'auto') === f}, f)));
  const offsetField = h('label', {class: 'field'}, 'Offset', offset);
  const timeField = h('label', {class: 'field'}, 'Time (local)', ts);
  const info = h('div', {class: 'muted', id: 'm-info'});
  const results = h('div', {class: 'records', id: 'records'});
  let last = null;
  const showMode = () => {
    offsetField.hidden = mode.value !== 'offset';
    timeField.hidden = mode.value !== 'timestamp';
  };
  const draw = () => {
    if (!last) return;
    replace(results, last.records.length ? last.records.map(r => recordCard(r, format.value))
      : h('p', {class: 'empty'}, 'No records in this range' + (filter.value ? ' match the filter.' : '.')));
  };
  const fetchRecords = async () => {
    const params = {partition: partition.value, limit: limit.value};
    const state = {partition: partition.value, mode: mode.value, limit: limit.value, format: format.value};
    if (mode.value === 'offset') { params.offset = offset.value || '0'; state.offset = params.offset; }
    if (mode.value === 'timestamp') {
      const ms = new Date(ts.value).getTime();
      if (!isFinite(ms)) { replace(results, errorBox('Pick a date and time.')); return; }
      params.timestamp = String(ms); state.ts = params.timestamp;
    }
    if (filter.value) { params.filter = filter.value; state.filter = filter.value; }
    ctx.setQuery(state);
    replace(info, 'Loading…');
    try {
      last = await api.messages(topic, params);
    } catch (e) {
      replace(info);
      replace(results, errorBox(e));
      return;
    }
    const ranges = last.ranges.filter(r => r.to > r.from).map(r => `p${r.partition} ${r.from}–${r.to - 1}`).join(', ');
    replace(info, `${last.records.length} record(s), newest first; read ${fmtNum(last.scanned)} in ${last.elapsedMs} ms`,
      ranges ? ` (offsets ${ranges})` : '', last.timedOut ? ' — stopped at the time limit, results may be partial' : '');
    draw();
  };
  mode.addEventListener('change', showMode);
  format.addEventListener('change', () => { draw(); ctx.setQuery(Object.fromEntries([...new URLSearchParams(location.hash.split('?')[1] || ''), ['format', format.value]])); });
  showMode();
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('div', {},
      h('div', {class: 'crumbs'}, h('a', {href: '#/topics'}, 'Topics'), ' / ', h('a', {href: topicHref(topic)}, topic), ' /'),
      h('h1', {}, 'Messages'))),
    h('form', {class: 'panel', id: 'browse-form', onsubmit: (e) => { e.preventDefault(); fetchRecords(); }},
      h('div', {class: 'toolbar'},
        h('label', {class: 'field'}, 'Partition', partition),
        h('label', {class: 'field'}, 'Start', mode),
        offsetField, timeField,
        h('label', {class: 'field'}, 'Max records', limit),
        h('label', {class: 'field grow'}, 'Filter', filter),
        h('label', {class: 'field'}, 'Show as', format),
        h('button', {class: 'primary', type: 'submit', id: 'm-fetch'}, 'Fetch'))),
    info, results);
  await fetchRecords();
}
