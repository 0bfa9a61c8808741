// A labelled suite of sessions in real Chromium for the two click detectors: each
// session says whether a rage click and a dead click happened, and why. The test prints
// precision and recall for both. The goal is 0.95 for each; the floors asserted
// here are what the tracker reaches today (see the misses printed), so a regression fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, page, sleep } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const click = (sel, n = 1, gap = 60) => async (tab) => {
  for (let i = 0; i < n; i++) { await tab.click(sel); if (i < n - 1) await sleep(gap); }
};
const key = (sel, k, n = 1) => async (tab) => { await tab.focus(sel); for (let i = 0; i < n; i++) await tab.keyboard.press(k); };
const tall = '<div style="height:3000px"></div>';

// [name, body, act, rage, dead, reason]
const SESSIONS = [
  ['button without handler', '<button id="b">Pay</button>', click('#b'), false, true, 'nothing listens'],
  ['link to # returning false', '<a id="b" href="#" onclick="return false">More</a>', click('#b'), false, true, 'handler cancels and does nothing'],
  ['div role=button without handler', '<div id="b" role="button">Go</div>', click('#b'), false, true, 'nothing listens'],
  ['button that only logs', '<button id="b" onclick="console.log(1)">Log</button>', click('#b'), false, true, 'no visible effect'],
  ['input button without handler', '<input id="b" type="button" value="Go">', click('#b'), false, true, 'nothing listens'],
  ['submit cancelled by the form', '<form onsubmit="return false"><input id="b" type="submit"></form>', click('#b'), false, true, 'submission cancelled, nothing shown'],
  ['button among 20 siblings', '<div>' + '<button>x</button>'.repeat(10) + '<button id="b">b</button>' + '<button>x</button>'.repeat(9) + '</div>', click('#b'), false, true, 'nothing listens'],
  ['icon inside a dead button', '<button><span id="b">★</span></button>', click('#b'), false, true, 'nothing listens on the button'],
  ['javascript:void link', '<a id="b" href="javascript:void(0)">Open</a>', click('#b'), false, true, 'no navigation, no change'],
  ['label for nothing', '<label id="b">Name</label>', click('#b'), false, true, 'a label without a control'],
  ['onclick attribute that reads a value', '<div id="b" onclick="void document.title">Read</div>', click('#b'), false, true, 'no visible effect'],
  ['dead button under keyboard', '<button id="b">Pay</button>', key('#b', 'Enter'), false, true, 'keyboard activation, nothing happens'],
  ['button that changes text', '<button id="b" onclick="o.textContent=\'done\'">Go</button><p id="o"></p>', click('#b'), false, false, 'DOM changes'],
  ['button that toggles a class', '<button id="b" onclick="this.classList.toggle(\'on\')">T</button>', click('#b'), false, false, 'attribute changes'],
  ['link to another page', '<a id="b" href="/other">Other</a>', click('#b'), false, false, 'navigates'],
  ['button that pushes history', '<button id="b" onclick="history.pushState(null,\'\',\'/step2\')">Next</button>', click('#b'), false, false, 'SPA navigation'],
  ['button that fetches', '<button id="b" onclick="fetch(\'/ping\')">Save</button>', click('#b'), false, false, 'a request'],
  ['button that focuses an input', '<button id="b" onclick="i.focus()">Edit</button><input id="i">', click('#b'), false, false, 'focus moves'],
  ['button that scrolls', `<button id="b" onclick="window.scrollTo(0, 2000)">Down</button>${tall}`, click('#b'), false, false, 'the page scrolls'],
  ['select opened', '<select id="b"><option>a</option><option>b</option></select>', click('#b'), false, false, 'the browser opens the list'],
  ['mailto link', '<a id="b" href="mailto:x@example.com">Mail</a>', click('#b'), false, false, 'the mail app answers'],
  ['download link', '<a id="b" href="/file.txt" download>Get</a>', click('#b'), false, false, 'the browser downloads'],
  ['button opening a window', '<button id="b" onclick="window.open(\'/other\')">Popup</button>', click('#b'), false, false, 'a new window'],
  ['summary toggling details', '<details><summary id="b">More</summary><p>x</p></details>', click('#b'), false, false, 'details open'],
  ['handler answering after 300 ms', '<button id="b" onclick="setTimeout(function(){o.textContent=\'ok\'},300)">Go</button><p id="o"></p>', click('#b'), false, false, 'DOM changes later'],
  ['form submitted to another page', '<form action="/other"><button id="b">Send</button></form>', click('#b'), false, false, 'navigates'],
  ['shadow-root component updating itself', '<x-counter id="b"></x-counter><script>customElements.define("x-counter", class extends HTMLElement { constructor(){ super(); const r = this.attachShadow({mode:"open"}); r.innerHTML = "<button>0</button>"; r.querySelector("button").onclick = () => { r.querySelector("button").textContent = "1"; }; } });</script>', click('#b'), false, false, 'its shadow DOM changes'],
  ['dead button in a component', '<x-pay id="b"></x-pay><script>customElements.define("x-pay", class extends HTMLElement { constructor(){ super(); this.attachShadow({mode:"open"}).innerHTML = "<button>Pay</button>"; } });</script>', click('#b'), false, true, 'nothing listens inside the shadow root'],
  ['component button updating its shadow root', '<x-like id="b"></x-like><script>customElements.define("x-like", class extends HTMLElement { constructor(){ super(); const r = this.attachShadow({mode:"open"}); r.innerHTML = "<button>Like</button><span></span>"; r.querySelector("button").onclick = () => { r.querySelector("span").textContent = "liked"; }; } });</script>', click('#b'), false, false, 'its shadow DOM changes'],
  ['dead button beside a ticking clock', '<header><span id="clock"></span></header><button id="b">Pay</button><script>setInterval(function(){ document.getElementById(\'clock\').textContent = Date.now(); }, 150)</script>', click('#b'), false, true, 'only the clock changes, again and again'],
  ['button updating a counter beside a ticking clock', '<header><span id="clock"></span> cart: <span id="cart">0</span></header><button id="b" onclick="document.getElementById(\'cart\').textContent = 1">Add</button><script>setInterval(function(){ document.getElementById(\'clock\').textContent = Date.now(); }, 150)</script>', click('#b'), false, false, 'the cart count changes once'],
  ['rage on a dead button beside a ticking clock', '<header><span id="clock"></span></header><button id="b">Pay</button><script>setInterval(function(){ document.getElementById(\'clock\').textContent = Date.now(); }, 100)</script>', click('#b', 3), true, true, 'three fast clicks, only the clock changes'],
  ['counter written in two steps', '<button id="b" onclick="q.textContent = \'\'; q.textContent = \'2\'">+</button><span id="q">1</span>', click('#b'), false, false, 'the count changes once, as jQuery .text() writes it'],
  ['dialog from a button', '<button id="b" onclick="alert(\'saved\')">Save</button>', click('#b'), false, false, 'a dialog answers'],
  ['rage on a dead button', '<button id="b">Pay</button>', click('#b', 3), true, true, 'three fast clicks, nothing happens'],
  ['rage on a working button', '<button id="b" onclick="o.textContent+=\'.\'">Go</button><p id="o"></p>', click('#b', 4), true, false, 'four fast clicks'],
  ['rage on text', '<p id="b" style="padding:40px">Price: 10</p>', click('#b', 3), true, false, 'clicks on text that does nothing'],
  ['rage of five on a div', '<div id="b" style="padding:40px">Box</div>', click('#b', 5), true, false, 'five fast clicks'],
  ['rage on nearby spots', '<p><span id="a">a</span> <span id="b">b</span> <span id="c">c</span></p>',
    async (tab) => { await tab.click('#a'); await tab.click('#b'); await tab.click('#c'); }, true, false, 'three clicks within the radius'],
  ['two fast clicks', '<button id="b" onclick="o.textContent+=\'.\'">Go</button><p id="o"></p>', click('#b', 2), false, false, 'two clicks are not rage'],
  ['three slow clicks', '<button id="b" onclick="o.textContent+=\'.\'">Go</button><p id="o"></p>', click('#b', 3, 700), false, false, 'too slow for rage'],
  ['three far clicks', '<button id="a" onclick="o.textContent+=1">a</button><div style="height:400px"></div><button id="b" onclick="o.textContent+=2">b</button><p id="o"></p>',
    async (tab) => { await tab.click('#a'); await tab.click('#b'); await tab.click('#a'); }, false, false, 'apart and on different elements'],
  ['Enter three times', '<button id="b" onclick="o.textContent+=\'.\'">Go</button><p id="o"></p>', key('#b', 'Enter', 3), false, false, 'keyboard, not a pointer'],
  ['script clicks', '<button id="b">Pay</button>', async (tab) => { await tab.evaluate(() => { for (let i = 0; i < 3; i++) document.getElementById('b').click(); }); }, false, false, 'not the visitor'],
  ['Space on three buttons', '<button id="a" onclick="o.textContent+=1">a</button><button id="b" onclick="o.textContent+=2">b</button><button id="c" onclick="o.textContent+=3">c</button><p id="o"></p>',
    async (tab) => { for (const id of ['#a', '#b', '#c']) { await tab.focus(id); await tab.keyboard.press('Space'); } }, false, false, 'keyboard on different buttons'],
  ['double-click to select', '<p id="b">select this word</p>', async (tab) => { await tab.dblclick('#b'); }, false, false, 'selecting text'],
  ['double-click a word, then click to deselect', '<p id="b">select this word</p>', async (tab) => { await tab.dblclick('#b'); await sleep(300); await tab.click('#b'); }, false, false, 'a selection, then a click'],
  ['triple-click to select a paragraph', '<p id="b">select this whole paragraph</p>', async (tab) => { await tab.click('#b', { clickCount: 3 }); }, false, false, 'selecting text'],
  ['checkbox through its label', '<label id="b"><input type="checkbox"> Agree</label>', click('#b'), false, false, 'the checkbox toggles'],
  ['video control', '<video id="b" controls width="200" height="100"></video>', click('#b'), false, false, 'media controls answer'],
  // Scrolled to first and left to settle: the scroll is the visitor's, before the click.
  ['dead link on a long page, scrolled', `${tall}<a id="b" href="#" onclick="return false">Top</a>`,
    async (tab) => { await tab.evaluate(() => document.getElementById('b').scrollIntoView()); await sleep(400); await tab.click('#b'); }, false, true, 'nothing happens'],
];

test('rage and dead clicks on a labelled set of sessions', async () => {
  const counts = { rage: { tp: 0, fp: 0, fn: 0 }, dead: { tp: 0, fp: 0, fn: 0 } };
  const misses = [];
  for (const [name, body, act, rage, dead, reason] of SESSIONS) {
    const { server, tab, context } = await openPage(browser, page({ 'dead-click-timeout': '600', 'batch-interval': '100' }, body), {
      pages: { '/other': '<p>other</p>', '/file.txt': 'file' },
    });
    tab.on('dialog', (d) => d.dismiss().catch(() => {}));
    await act(tab);
    await sleep(1000);
    await tab.evaluate(() => window.friction && window.friction.flush()).catch(() => {});
    await sleep(300);
    const types = new Set(server.events().map((e) => e.type));
    for (const [detector, expected] of [['rage', rage], ['dead', dead]]) {
      const got = types.has(detector + '_click');
      const c = counts[detector];
      if (got && expected) c.tp++;
      else if (got) { c.fp++; misses.push(`${detector} false positive: ${name} (${reason})`); }
      else if (expected) { c.fn++; misses.push(`${detector} missed: ${name} (${reason})`); }
    }
    await context.close();
    await server.close().catch(() => {});
  }
  const score = (c) => ({ precision: c.tp / (c.tp + c.fp || 1), recall: c.tp / (c.tp + c.fn || 1) });
  const rage = score(counts.rage);
  const dead = score(counts.dead);
  console.log(`labelled sessions: ${SESSIONS.length}`);
  console.log(`rage: precision ${rage.precision.toFixed(2)} recall ${rage.recall.toFixed(2)} ${JSON.stringify(counts.rage)}`);
  console.log(`dead: precision ${dead.precision.toFixed(2)} recall ${dead.recall.toFixed(2)} ${JSON.stringify(counts.dead)}`);
  for (const m of misses) console.log('  ' + m);
  assert.ok(SESSIONS.length >= 40);
  assert.ok(rage.precision >= FLOOR.rage.precision && rage.recall >= FLOOR.rage.recall, JSON.stringify(rage));
  assert.ok(dead.precision >= FLOOR.dead.precision && dead.recall >= FLOOR.dead.recall, JSON.stringify(dead));
});

// Today (51 sessions): rage 1.00 / 1.00, dead 0.89 / 1.00. The misses: a new window and a
// dialog take the focus in a real browser (window blur counts) but not in headless
// Chromium, where nothing the page can see tells that they answered the click. The floors
// leave room for one session decided by timing on a loaded machine.
const FLOOR = { rage: { precision: 0.8, recall: 0.8 }, dead: { precision: 0.8, recall: 0.9 } };
