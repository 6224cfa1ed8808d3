// Small DOM helpers shared by the pages.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
// Attributes whose value is null, undefined or false are left out.
export function h(tag, attrs, ...children) {
  const svg = ['svg', 'path', 'polyline', 'line', 'text', 'g', 'rect', 'circle'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' && !svg) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace swaps the children of el for the given nodes.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numFmt = new Intl.NumberFormat('en-US');
export function fmtNum(n) {
  return n === null || n === undefined || n < 0 ? '–' : numFmt.format(n);
}

export function fmtBytes(n) {
  if (n === null || n === undefined || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

export function fmtRate(n) {
  if (!isFinite(n)) return '–';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M/s';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k/s';
  return (n >= 100 ? n.toFixed(0) : n.toFixed(1)) + '/s';
}

function pad(n, w = 2) { return String(n).padStart(w, '0'); }

// fmtTime shows a millisecond timestamp in local time with milliseconds.
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// localInputValue formats ms for an <input type=datetime-local step=1>.
export function localInputValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// table renders rows with columns [{label, cell(row) -> node|string, num, cls}].
export function table(columns, rows, emptyText = 'Nothing here.', attrs = {}) {
  if (!rows.length) return h('p', {class: 'empty'}, emptyText);
  return h('div', {class: 'table-wrap'},
    h('table', attrs,
      h('thead', {}, h('tr', {}, columns.map(c => h('th', {class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null}, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => {
        const v = c.cell(r);
        return h('td', {class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null}, v);
      }))))));
}

export function badge(text, kind = '') {
  return h('span', {class: 'badge ' + kind}, text);
}

export function card(label, value, small = false) {
  return h('div', {class: 'card'}, h('div', {class: 'label'}, label), h('div', {class: 'value' + (small ? ' small' : ''), title: String(value)}, value));
}

export function errorBox(err) {
  return h('div', {class: 'error', role: 'alert'}, err instanceof Error ? err.message : String(err));
}

export function toast(msg, kind = '') {
  const box = document.getElementById('toast');
  const el = h('div', {class: kind}, msg);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'bad' ? 8000 : 4000);
}

export function link(href, text) {
  return h('a', {href}, text);
}

export function topicHref(name) { return '#/topics/' + encodeURIComponent(name); }
export function groupHref(name) { return '#/groups/' + encodeURIComponent(name); }

// confirmDialog asks the user to type `expect` before onConfirm runs.
export function confirmDialog({title, body, expect, action, onConfirm}) {
  const input = h('input', {type: 'text', id: 'confirm-input', autocomplete: 'off', spellcheck: 'false', placeholder: expect});
  const err = h('div');
  const ok = h('button', {class: 'danger solid', id: 'confirm-ok', disabled: true, type: 'submit'}, action);
  const dlg = h('dialog', {id: 'confirm-dialog'},
    h('form', {method: 'dialog', onsubmit: async (e) => {
      e.preventDefault();
      if (input.value !== expect) return;
      ok.disabled = true;
      try { await onConfirm(); dlg.close(); dlg.remove(); } catch (x) { replace(err, errorBox(x)); ok.disabled = false; }
    }},
    h('h2', {}, title), h('p', {}, body),
    h('label', {class: 'field'}, `Type "${expect}" to confirm`, input), err,
    h('div', {class: 'actions'},
      h('button', {type: 'button', onclick: () => { dlg.close(); dlg.remove(); }}, 'Cancel'), ok)));
  input.addEventListener('input', () => { ok.disabled = input.value !== expect; });
  document.body.append(dlg);
  dlg.showModal();
  input.focus();
}
