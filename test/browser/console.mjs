// Drives the arus web console in Debian's headless Chromium with
// playwright-core (no browser download). Started by browser_test.go with:
//
//   CONSOLE_URL  the console, e.g. http://127.0.0.1:18080/
//   ARUS_BIN     the arus binary (for `arus produce` and `arus consume`)
//   BOOTSTRAP    the broker's host:port
//   SHOTS        directory for screenshots (desktop 1280x800, phone 390x844)
//   CHROMIUM     the browser, /usr/bin/chromium by default
//
// Exits non-zero with a message on the first failed check.

import {chromium} from 'playwright-core';
import {spawn, execFile} from 'node:child_process';
import {mkdtempSync, mkdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const URL_ = process.env.CONSOLE_URL;
const ARUS = process.env.ARUS_BIN;
const BOOTSTRAP = process.env.BOOTSTRAP;
const SHOTS = process.env.SHOTS;
const TOPIC = 'browser-test';
const GROUP = 'browser-readers';
if (!URL_ || !ARUS || !BOOTSTRAP || !SHOTS) throw new Error('CONSOLE_URL, ARUS_BIN, BOOTSTRAP and SHOTS must be set');
mkdirSync(SHOTS, {recursive: true});

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
function check(cond, msg) { if (!cond) throw new Error('check failed: ' + msg); }
const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// arus runs the CLI with input on stdin and resolves with its output.
function arus(args, input = '') {
  return new Promise((resolve, reject) => {
    const p = execFile(ARUS, args, {timeout: 60000}, (err, stdout, stderr) => {
      if (err) reject(new Error(`arus ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
    p.stdin.end(input);
  });
}

const viewports = {desktop: {width: 1280, height: 800}, phone: {width: 390, height: 844}};

async function snap(page, name) {
  for (const [vp, size] of Object.entries(viewports)) {
    await page.setViewportSize(size);
    // Charts take the panel's width when a page redraws (every 2-3 s).
    await sleep(vp === 'phone' ? 3200 : 300);
    await page.evaluate(() => window.scrollTo(0, 0)); // a sticky header would land mid-picture
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} on ${vp}: the page is ${overflow}px wider than the screen`);
    await page.screenshot({path: join(SHOTS, `${name}-${vp}.png`), fullPage: true});
  }
  await page.setViewportSize(viewports.desktop);
  log('screenshot', name);
}

async function text(page, sel) { return (await page.locator(sel).first().innerText()).trim(); }

async function waitText(page, sel, pred, what, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    try { last = await text(page, sel); if (pred(last)) return last; } catch (e) { last = e.message; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (${sel} is "${last}")`);
}

const profile = mkdtempSync(join(tmpdir(), 'arus-browser-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: viewports.desktop,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'],
});
let consumer = null;
try {
  const page = context.pages()[0] || await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', e => consoleErrors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text()); });
  // Nothing may be loaded from another origin.
  page.on('request', r => { if (!r.url().startsWith(URL_) && !r.url().startsWith('data:')) consoleErrors.push('request outside the console: ' + r.url()); });

  // 1. Overview.
  await page.goto(URL_ + '#/');
  await waitText(page, '#health', t => t === 'ok', 'health ok');
  check((await page.locator('#brokers tbody tr').count()) === 1, 'one broker listed');
  check((await text(page, '#brokers tbody tr')).includes('active controller'), 'broker 1 is the active controller');
  await snap(page, '01-overview');

  // 2. Create a topic from the console; a bad name first gets a clear message.
  await page.goto(URL_ + '#/topics');
  await page.fill('#new-topic-name', 'bad name');
  await page.click('#create-topic');
  const err = await waitText(page, '#create-topic-form .error', t => t.length > 0, 'an error for a bad name');
  check(err.includes('only ASCII letters'), 'bad name message: ' + err);
  await snap(page, '02-topics-bad-name');
  await page.fill('#new-topic-name', TOPIC);
  await page.fill('#new-topic-partitions', '2');
  await page.fill('#new-topic-configs', 'retention.ms=604800000');
  await page.click('#create-topic');
  await page.waitForURL(u => u.hash === '#/topics/' + TOPIC, {timeout: 15000});
  await page.locator('#partitions-table tbody tr').nth(1).waitFor({timeout: 15000});
  check((await page.locator('#partitions-table tbody tr').count()) === 2, 'two partitions');
  log('topic created from the console');

  // Edit a config: set on the topic at create, change it here.
  await page.locator('#configs-table button[data-config="retention.ms"]').click();
  await page.fill('#config-value', '86400000');
  await page.click('#config-save');
  await waitText(page, '#configs-table', t => t.includes('86400000') && !t.includes('604800000'), 'retention.ms changed');

  // 3. Produce with the CLI: batch A to partition 0, then (after a
  // second boundary T) batch B to partition 1.
  const a = Array.from({length: 10}, (_, i) => `key-${i}:{"n":${i},"msg":"hello ${i}"}`).join('\n') + '\n';
  log(await arus(['produce', TOPIC, '-b', BOOTSTRAP, '--key-separator', ':', '--partition', '0', '--header', 'source=cli'], a));
  const T = Math.ceil((Date.now() + 1) / 1000) * 1000;
  while (Date.now() < T + 100) await sleep(50);
  const b = Array.from({length: 10}, (_, i) => `late-${i}:second batch ${i}`).join('\n') + '\n';
  log(await arus(['produce', TOPIC, '-b', BOOTSTRAP, '--key-separator', ':', '--partition', '1'], b));
  await waitText(page, '#partitions-table', t => /\b10\b/.test(t), 'end offsets 10', 15000);
  await snap(page, '03-topic');

  // Topics list shows it with 20 messages.
  await page.goto(URL_ + '#/topics');
  await waitText(page, '#topics-table', t => t.includes(TOPIC) && t.includes('20'), 'topic with 20 messages in the list');
  await snap(page, '04-topics');

  // 4. Message browser by offset: partition 0 from offset 3.
  await page.goto(URL_ + `#/topics/${TOPIC}/messages`);
  await page.locator('#records .record').first().waitFor();
  await page.selectOption('#m-partition', '0');
  await page.selectOption('#m-mode', 'offset');
  await page.fill('#m-offset', '3');
  await page.click('#m-fetch');
  await waitText(page, '#m-info', t => t.startsWith('7 record'), '7 records from offset 3');
  const offsets = await page.locator('#records .record').evaluateAll(els => els.map(e => Number(e.dataset.offset)));
  check(JSON.stringify(offsets) === JSON.stringify([9, 8, 7, 6, 5, 4, 3]), 'offsets 9..3 newest first, got ' + offsets);
  const last = page.locator('#records .record[data-offset="3"]');
  check((await last.locator('pre.v-key').innerText()) === 'key-3', 'key of offset 3');
  check((await last.locator('pre.v-value').innerText()).includes('"msg": "hello 3"'), 'value of offset 3 shown as JSON');
  check((await last.innerText()).includes('source: cli'), 'header of offset 3');
  await snap(page, '05-messages-offset');
  await page.selectOption('#m-format', 'hex');
  check((await last.locator('pre.v-value').innerText()).startsWith('000000  7b 22 6e 22'), 'value as hex');
  await page.selectOption('#m-format', 'auto');

  // By timestamp: every partition from T finds batch B only.
  await page.selectOption('#m-partition', 'all');
  await page.selectOption('#m-mode', 'timestamp');
  const local = await page.evaluate(t => {
    const d = new Date(t), p = n => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, T);
  await page.fill('#m-time', local);
  await page.click('#m-fetch');
  await waitText(page, '#m-info', t => t.startsWith('10 record'), '10 records from time T');
  const values = await page.locator('#records pre.v-value').allInnerTexts();
  check(values.every(v => v.startsWith('second batch')), 'only batch B after T: ' + values.slice(0, 3));
  check(values[0] === 'second batch 9' && values[9] === 'second batch 0', 'newest first: ' + values[0]);
  await snap(page, '06-messages-timestamp');

  // A filter over every partition, newest mode.
  await page.selectOption('#m-mode', 'newest');
  await page.fill('#m-filter', 'HELLO 7');
  await page.click('#m-fetch');
  await waitText(page, '#m-info', t => t.startsWith('1 record'), 'one record matching the filter');
  check((await text(page, '#records pre.v-key')) === 'key-7', 'the filter finds key-7');

  // 5. Consumer group: commit to the end, produce (lag rises), consume (lag falls).
  log(await arus(['consume', TOPIC, '-b', BOOTSTRAP, '--group', GROUP, '--exit-at-end']));
  await page.goto(URL_ + '#/groups/' + GROUP);
  await waitText(page, '#total-lag', t => t === '0', 'lag 0 after consuming everything');
  const more = Array.from({length: 50}, (_, i) => `m-${i}:more ${i}`).join('\n') + '\n';
  log(await arus(['produce', TOPIC, '-b', BOOTSTRAP, '--key-separator', ':'], more));
  await waitText(page, '#total-lag', t => t === '50', 'lag rises to 50');
  log('lag rose to 50');
  await sleep(4500); // two more samples at 50 make the chart readable
  consumer = spawn(ARUS, ['consume', TOPIC, '-b', BOOTSTRAP, '--group', GROUP], {stdio: ['ignore', 'ignore', 'pipe']});
  let consumerErr = '';
  consumer.stderr.on('data', d => { consumerErr += d; });
  await waitText(page, '#total-lag', t => t === '0', 'lag falls to 0 as the consumer runs', 60000);
  await waitText(page, '#group-state', t => t === 'Stable', 'group Stable with the consumer', 30000);
  check((await page.locator('#group-members tbody tr').count()) === 1, 'one member');
  log('lag fell to 0');
  await sleep(4500);
  const points = await page.locator('#lag-chart polyline').first().getAttribute('points');
  check(points && points.split(' ').length >= 4, 'lag chart has samples: ' + points);
  await snap(page, '07-group-consuming');
  await page.goto(URL_ + '#/groups');
  await waitText(page, '#groups-table', t => t.includes(GROUP) && t.includes('Stable'), 'group listed as Stable');
  await snap(page, '08-groups');

  // Stop the consumer; the empty group's offsets go back to the start.
  consumer.kill('SIGTERM');
  await new Promise(r => consumer.once('exit', r));
  consumer = null;
  await page.goto(URL_ + '#/groups/' + GROUP);
  await waitText(page, '#group-state', t => t === 'Empty', 'group Empty after the consumer stopped', 60000);
  await page.locator('#reset-submit:not([disabled])').waitFor({timeout: 10000});
  await page.selectOption('#reset-to', 'earliest');
  await page.click('#reset-submit');
  await waitText(page, '#total-lag', t => t === '70', 'lag 70 after reset to earliest');
  log('offsets reset to earliest from the console');
  await snap(page, '09-group-reset');

  // 6. Throughput: sample, produce, see a rate.
  await page.goto(URL_ + '#/throughput');
  await page.locator('#throughput-table').waitFor();
  await sleep(3500);
  const burst = Array.from({length: 3000}, (_, i) => `v${i}`).join('\n') + '\n';
  log(await arus(['produce', TOPIC, '-b', BOOTSTRAP], burst));
  await waitText(page, '#throughput-table', t => /browser-test\s+[\d.]+k?\/s/.test(t) && !/browser-test\s+0\.0\/s/.test(t), 'a non-zero rate', 20000);
  check((await page.locator('#throughput-chart polyline').count()) >= 1, 'throughput chart drawn');
  await snap(page, '10-throughput');

  // 7. Delete the topic from the console, with confirmation.
  await page.goto(URL_ + '#/topics/' + TOPIC);
  await page.locator('#partitions-table').waitFor();
  await page.click('#delete-topic');
  await page.fill('#confirm-input', 'wrong');
  check(await page.locator('#confirm-ok').isDisabled(), 'delete disabled until the name is typed');
  await page.fill('#confirm-input', TOPIC);
  await snap(page, '11-delete-confirm');
  await page.click('#confirm-ok');
  await page.waitForURL(u => u.hash === '#/topics', {timeout: 15000});
  await waitText(page, '#app .panel:last-child', t => !t.includes(TOPIC), 'topic gone from the list');
  const gone = await page.evaluate(async (t) => (await fetch('api/topics/' + t)).status, TOPIC);
  check(gone === 404, 'topic detail is 404 after delete, got ' + gone);
  log('topic deleted from the console');

  check(consoleErrors.length === 0, 'no JavaScript errors: ' + consoleErrors.join('; '));
  log('all checks passed');
} finally {
  if (consumer) consumer.kill('SIGKILL');
  await context.close();
  rmSync(profile, {recursive: true, force: true});
}
