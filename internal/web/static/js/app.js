// The console's router: hash URLs (#/topics/orders?x=y) pick a page
// module; a page gets a context whose timers stop when the user leaves.

import {h, replace, errorBox} from './ui.js';
import * as overview from './pages/overview.js';
import * as topics from './pages/topics.js';
import * as topic from './pages/topic.js';
import * as messages from './pages/messages.js';
import * as groups from './pages/groups.js';
import * as group from './pages/group.js';
import * as throughput from './pages/throughput.js';

// MinPollMs keeps the console's load on the cluster small: no page asks
// more often than this (the server also caches metadata for ~1.5 s).
const MinPollMs = 2000;

const routes = [
  [/^\/?$/, overview, 'overview'],
  [/^\/topics$/, topics, 'topics'],
  [/^\/topics\/([^/]+)$/, topic, 'topics'],
  [/^\/topics\/([^/]+)\/messages$/, messages, 'topics'],
  [/^\/groups$/, groups, 'groups'],
  [/^\/groups\/([^/]+)$/, group, 'groups'],
  [/^\/throughput$/, throughput, 'throughput'],
];

let current = null; // the running page's context

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return {path, query};
}

function setStatus(text, bad = false) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = 'status' + (bad ? ' err' : '');
}

function newContext(root, query) {
  const ctx = {
    root, query, alive: true, timers: [],
    // every runs fn now and then every ms (at least MinPollMs) while the
    // page is shown; a run waits for the previous one to finish.
    every(ms, fn) {
      ms = Math.max(ms, MinPollMs);
      const tick = async () => {
        if (!ctx.alive) return;
        try {
          await fn();
          setStatus('updated ' + new Date().toLocaleTimeString());
        } catch (e) {
          setStatus('refresh failed', true);
          console.warn(e);
        }
        if (ctx.alive) ctx.timers.push(setTimeout(tick, ms));
      };
      return tick();
    },
    // setQuery updates the URL's query without re-rendering the page.
    setQuery(params) {
      const {path} = parseHash();
      const qs = new URLSearchParams(params).toString();
      history.replaceState(null, '', '#' + path + (qs ? '?' + qs : ''));
    },
    stop() {
      ctx.alive = false;
      ctx.timers.forEach(clearTimeout);
    },
  };
  return ctx;
}

async function render() {
  const {path, query} = parseHash();
  if (current) current.stop();
  const root = document.getElementById('app');
  replace(root);
  document.querySelectorAll('dialog').forEach(d => d.remove());
  for (const [re, page, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    document.querySelectorAll('#nav a').forEach(a => a.classList.toggle('active', a.dataset.nav === nav));
    const ctx = newContext(root, query);
    current = ctx;
    try {
      await page.render(ctx, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (ctx.alive) replace(root, errorBox(e));
    }
    return;
  }
  replace(root, h('div', {class: 'panel'}, h('h1', {}, 'Not found'), h('p', {}, 'No page at ' + path + '. '), h('a', {href: '#/'}, 'Back to the overview')));
}

window.addEventListener('hashchange', render);
render();
