// The web UI end to end in a real browser: Debian's chromium, driven by
// playwright-core, against two real nodes on loopback.
//
//   node browser.mjs SAMIZDAT_BINARY WORK_DIR
//
// With JavaScript on: A composes a post in its UI, it appears in B's open
// timeline without a reload; B opens the thread and replies; A sees the
// reply, live. Follow by a mistyped key shows why. The byte counter
// refuses a text over the limit before sending. With JavaScript off: the
// same flows with reloads. Then the security checks: peer-written markup,
// links and bidi controls show as text; foreign Host, no session, no or a
// wrong CSRF token are refused; a non-loopback address is refused unless
// asked. Screenshots of every page go to WORK_DIR/screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Node, binaryFromArgs, link, request, waitFor } from './nodes.mjs';

const { bin, work } = binaryFromArgs();
const shots = path.join(work, 'screenshots');
const chromiumPath = process.env.SAMIZDAT_CHROMIUM ?? '/usr/bin/chromium';
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function login(browser, node, js, viewport) {
  const ctx = await browser.newContext({ javaScriptEnabled: js, viewport });
  const page = await ctx.newPage();
  page.on('dialog', async (d) => {
    check(false, `no script runs: a dialog opened on ${node.name}'s page: ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => check(false, `no script error on ${node.name}'s page: ${e.message}`));
  await page.goto(node.loginUrl);
  return page;
}

async function compose(page, text) {
  await page.getByLabel(/Write a (post|reply)/).fill(text);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /^(Post|Reply)$/ }).click()]);
}

async function liveFlows(browser, a, b, tag) {
  const js = tag === 'js';
  const pa = await login(browser, a, js);
  const pb = await login(browser, b, js);
  await shot(pa, `${tag}-timeline-empty`);
  // A posts; B's timeline shows it (live with JS, after reloads without).
  const text = `Hello from A (${tag}) ${Date.now()}`;
  const t0 = Date.now();
  await compose(pa, text);
  const seen = pb.locator('article.post', { hasText: text });
  if (js) {
    await seen.waitFor({ timeout: 15000 });
  } else {
    await waitFor('the post at B after reloads', async () => {
      await pb.reload();
      return (await seen.count()) > 0;
    }, 15000, 200);
  }
  check(await seen.count() === 1, `${tag}: A's post in B's timeline ${js ? 'without a reload' : 'after a reload'} (${Date.now() - t0} ms)`);
  await shot(pb, `${tag}-timeline-b`);
  // B opens the thread and replies.
  await Promise.all([pb.waitForNavigation(), seen.getByRole('link', { name: 'Reply' }).click()]);
  check(/\/post\/szp1/.test(pb.url()), `${tag}: B opened the thread`);
  await shot(pb, `${tag}-thread-b`);
  const reply = `A reply from B (${tag}) ${Date.now()}`;
  await compose(pb, reply);
  check((await pb.locator('.depth-1 article.post', { hasText: reply }).count()) === 1,
    `${tag}: the reply sits below the post in B's thread`);
  // A sees the reply.
  const got = pa.locator('article.post', { hasText: reply });
  if (js) {
    await got.waitFor({ timeout: 15000 });
  } else {
    await waitFor('the reply at A after reloads', async () => {
      await pa.reload();
      return (await got.count()) > 0;
    }, 15000, 200);
  }
  check(await got.count() === 1, `${tag}: A sees B's reply ${js ? 'live' : 'after a reload'}`);
  // Follow by a mistyped key.
  await pa.goto(new URL('/follow', a.base).href);
  const mistyped = b.author.slice(0, 20) + (b.author[20] === 'q' ? 'p' : 'q') + b.author.slice(21);
  await pa.getByLabel(/Author key/).fill(mistyped);
  await Promise.all([pa.waitForNavigation(), pa.getByRole('button', { name: 'Follow' }).click()]);
  const alert = await pa.getByRole('alert').textContent();
  check(/mistyped/.test(alert ?? ''), `${tag}: a mistyped key says why: "${alert}"`);
  await shot(pa, `${tag}-follow-mistyped`);
  await pa.getByLabel(/Author key/).fill(a.nodeKey);
  await Promise.all([pa.waitForNavigation(), pa.getByRole('button', { name: 'Follow' }).click()]);
  check(/node key, not an author key/.test((await pa.getByRole('alert').textContent()) ?? ''),
    `${tag}: a node key for an author key says so`);
  for (const [p, name] of [['/me', 'profile'], ['/peers', 'peers'], [`/author/${b.author}`, 'author']]) {
    await pa.goto(new URL(p, a.base).href);
    await shot(pa, `${tag}-${name}`);
  }
  if (js) {
    // The byte limit, shown before sending.
    await pa.goto(a.base);
    await pa.getByLabel('Write a post').fill('é'.repeat(600));
    const counter = await pa.locator('#compose-text-count').textContent();
    check(/1200 of 1024 bytes/.test(counter ?? '') && await pa.getByRole('button', { name: 'Post' }).isDisabled(),
      `js: 600 × é counts 1200 of 1024 bytes and the button is off: "${counter}"`);
    await shot(pa, 'js-compose-too-long');
  } else {
    await pa.goto(a.base);
    await compose(pa, 'é'.repeat(600));
    const err = (await pa.getByRole('alert').textContent()) ?? '';
    check(/too long|bytes/.test(err), `nojs: a text over the limit is refused after sending: "${err}"`);
    await shot(pa, 'nojs-compose-too-long');
  }
  // A phone-sized window.
  const phone = await login(browser, a, js, { width: 360, height: 740 });
  await shot(phone, `${tag}-phone-timeline`);
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 360, `${tag}: no sideways scrolling on a 360 px screen (${wide} px)`);
  await pa.context().close();
  await pb.context().close();
  await phone.context().close();
}

async function hostile(browser, a, b) {
  // B writes what an attacker would; A follows B.
  const evil = {
    name: '"><img src=x onerror=alert(1)>',
    bio: '<script>alert(2)</script>',
    post: 'click <a href="javascript:alert(3)">me</a> javascript:alert(4)',
    bidi: 'abc\u202Eexe.txt',
  };
  b.cli(['profile', '--name', evil.name, '--bio', evil.bio]);
  b.cli(['post', evil.post]);
  b.cli(['post', evil.bidi]);
  await waitFor('the hostile posts at A', () =>
    JSON.parse(a.cli(['--json', 'feed', b.author, '--limit', '50'])).posts.some((p) => p.body === evil.bidi));
  const page = await login(browser, a, true);
  for (const url of [a.base, new URL(`/author/${b.author}`, a.base).href]) {
    await page.goto(url);
    await page.waitForTimeout(300);
    const imgs = await page.locator('img').count();
    const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.src || 'inline'));
    const links = await page.evaluate(() => [...document.links].map((l) => l.href).filter((h) => !h.startsWith(location.origin)));
    const text = await page.locator('main').textContent();
    const where = url === a.base ? 'timeline' : 'author page';
    check(imgs === 0, `${where}: the name's <img> is text, not an element (${imgs} images)`);
    check(scripts.length === 1 && scripts[0].endsWith('/static/app.js'), `${where}: no script but app.js (${scripts})`);
    check(links.length === 0, `${where}: no link leaves the UI (${links})`);
    check(text.includes(evil.post) && text.includes(evil.name), `${where}: the markup shows as text`);
    const bidiOk = await page.evaluate((s) => [...document.querySelectorAll('.body, bdi')]
      .filter((e) => e.textContent.includes(s)).length > 0, evil.bidi);
    check(bidiOk, `${where}: the bidi override sits inside an isolating element`);
  }
  await shot(page, 'hostile-author');
  await page.context().close();
}

async function refusals(a) {
  const cookie = (await request(a.loginUrl)).headers['set-cookie'][0].split(';')[0];
  const host = new URL(a.base).host;
  const foreign = await request(a.base, { headers: { Host: `evil.example:${new URL(a.base).port}`, Cookie: cookie } });
  check(foreign.status === 421, `a foreign Host header is refused (${foreign.status})`);
  const rebinding = await request(new URL('/api/v1/status', a.base).href, { headers: { Host: 'attacker.example' } });
  check(rebinding.status === 421, `the API refuses a foreign Host too (${rebinding.status})`);
  const noSession = await request(a.base, { headers: { Host: host } });
  check(noSession.status === 401, `no session cookie: refused (${noSession.status})`);
  const badLogin = await request(new URL('/login?key=00', a.base).href, { headers: { Host: host } });
  check(badLogin.status === 403 && !badLogin.headers['set-cookie'], `a wrong login key sets no cookie (${badLogin.status})`);
  const form = { 'Content-Type': 'application/x-www-form-urlencoded', Host: host, Cookie: cookie };
  const noCsrf = await request(new URL('/compose', a.base).href, { method: 'POST', headers: form, body: 'text=csrf+test' });
  check(noCsrf.status === 403, `a form without the CSRF token is refused (${noCsrf.status})`);
  const badCsrf = await request(new URL('/compose', a.base).href, { method: 'POST', headers: form, body: `text=csrf+test&csrf=${'0'.repeat(64)}` });
  check(badCsrf.status === 403, `a form with a wrong CSRF token is refused (${badCsrf.status})`);
  const posts = JSON.parse(a.cli(['--json', 'feed', '--limit', '100'])).posts;
  check(!posts.some((p) => p.body === 'csrf test'), 'neither refused form posted anything');
  const noToken = await request(new URL('/api/v1/status', a.base).href, { headers: { Host: host } });
  check(noToken.status === 401, `the API without a token: refused (${noToken.status})`);
  const page = await request(a.base, { headers: { Host: host, Cookie: cookie } });
  const csp = page.headers['content-security-policy'] ?? '';
  check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `a CSP without inline script: ${csp}`);
  check(/HttpOnly/.test((await request(a.loginUrl)).headers['set-cookie'][0]) &&
        /SameSite=Strict/.test((await request(a.loginUrl)).headers['set-cookie'][0]), 'the cookie is HttpOnly, SameSite=Strict');
  // Binding beyond loopback only when asked.
  const c = new Node(bin, path.join(work, 'c'), 'C');
  fs.mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  const r = c.cliStatus(['run', '--port', '0', '--no-lan', '--no-upnp', '--web', '0.0.0.0:0']);
  check(r.status === 2 && /not a loopback address/.test(r.stderr), `--web 0.0.0.0:0 is refused without --web-public (exit ${r.status}: ${r.stderr.trim()})`);
}

async function main() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(shots, { recursive: true });
  const a = await new Node(bin, path.join(work, 'a'), 'A').start();
  const b = await new Node(bin, path.join(work, 'b'), 'B').start();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  try {
    await link(a, b);
    a.cli(['profile', '--name', 'Ana', '--bio', 'Writes about rivers.']);
    b.cli(['profile', '--name', 'Bea']);
    await liveFlows(browser, a, b, 'js');
    await liveFlows(browser, a, b, 'nojs');
    await hostile(browser, a, b);
    await refusals(a);
  } catch (e) {
    check(false, `the test ran to its end: ${e.stack}`);
    console.log(`--- A's log ---\n${a.log().slice(-3000)}\n--- B's log ---\n${b.log().slice(-3000)}`);
  } finally {
    await browser.close();
    const ra = await a.stop();
    const rb = await b.stop();
    check(ra?.code === 0 && rb?.code === 0, `both nodes stopped cleanly on SIGINT (${JSON.stringify(ra)}, ${JSON.stringify(rb)})`);
  }
  console.log(`screenshots in ${shots}`);
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

main();
