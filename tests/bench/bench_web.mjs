// The web UI's speed (issue 12, section 5), on real nodes:
//  - the timeline page of a node holding 100,000 posts of 1,000 followed
//    authors, rendered by the server: the time from request to the last
//    byte of the response over loopback, RUNS times (median, p90, max);
//  - the event stream: 10 headless Chromium pages hold A's timeline open;
//    B (followed by A) publishes POSTS posts; for each page and post, the
//    time from A storing the post (A's log, debug level) to the page's
//    DOM holding it.
//
//   node tests/bench/bench_web.mjs BUILD_DIR WORK_DIR [RUNS] [BROWSERS] [POSTS]
//   (make bench-web)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(here, '../web/package.json'));
const { chromium } = require('playwright-core');
const { Node, link, waitFor, sleep } = await import('../web/nodes.mjs');

const [build, work, runsArg, browsersArg, postsArg] = process.argv.slice(2);
if (!build || !work) {
  console.error('usage: node bench_web.mjs BUILD_DIR WORK_DIR [RUNS] [BROWSERS] [POSTS]');
  process.exit(2);
}
const RUNS = Number(runsArg ?? 200), BROWSERS = Number(browsersArg ?? 10), POSTS = Number(postsArg ?? 20);
const bin = path.resolve(build, 'samizdat');
const fill = path.resolve(build, 'tests/webfill');

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
}
const fmt = (x) => x.toFixed(2);

function get(agent, url, cookie) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    http.get(url, { agent, headers: { Cookie: cookie } }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, bytes, status: res.statusCode }));
    }).on('error', reject);
  });
}

async function main() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const adir = path.join(work, 'a');
  let t = Date.now();
  console.log(execFileSync(fill, [adir, '1000', '100'], { encoding: 'utf8' }).trim(), `(${Date.now() - t} ms)`);
  const a = new Node(bin, adir, 'A');
  const b = new Node(bin, path.join(work, 'b'), 'B');
  await a.start(['--log-level', 'debug']);
  await b.start();
  const browser = await chromium.launch({ executablePath: process.env.SAMIZDAT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    await link(a, b);
    const login = await new Promise((r) => http.get(a.loginUrl, (res) => { res.resume(); r(res.headers['set-cookie'][0].split(';')[0]); }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) await get(agent, a.base, login);
    const times = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await get(agent, a.base, login);
      if (r.status !== 200) throw new Error(`timeline: ${r.status}`);
      times.push(r.ms);
      bytes = r.bytes;
    }
    const st = stats(times);
    console.log(`timeline page, ${RUNS} requests (20 posts, ${bytes} bytes): median ${fmt(st.median)} ms, p90 ${fmt(st.p90)} ms, p99 ${fmt(st.p99)} ms, max ${fmt(st.max)} ms`);

    const pages = [];
    for (let i = 0; i < BROWSERS; i++) {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      await p.goto(a.loginUrl);
      await p.evaluate(() => {
        window.__arrived = {};
        new MutationObserver((muts) => {
          const now = Date.now();
          for (const m of muts) for (const n of m.addedNodes) {
            const body = n.querySelector && n.querySelector('.body');
            if (body && !(body.textContent in window.__arrived)) window.__arrived[body.textContent] = now;
          }
        }).observe(document.getElementById('timeline'), { childList: true });
      });
      pages.push(p);
    }
    await sleep(1000); // every EventSource open
    const texts = [];
    for (let i = 0; i < POSTS; i++) {
      const text = `bench post ${i} ${Date.now()}`;
      b.cli(['post', text]);
      texts.push(text);
      await waitFor(`post ${i} on every page`, async () => {
        for (const p of pages) if (!(await p.evaluate((x) => x in window.__arrived, text))) return false;
        return true;
      }, 15000, 20);
      await sleep(200);
    }
    // When A stored each post: its debug line "stored post #N of AUTHOR".
    const stored = {};
    for (const line of a.log().split('\n')) {
      const m = line.match(/^(\S+) debug +stored post #(\d+) of (\S+)/);
      if (m && m[3] === b.author) stored[Number(m[2])] = Date.parse(m[1]);
    }
    const feed = JSON.parse(a.cli(['--json', 'feed', b.author, '--limit', String(POSTS + 5)])).posts;
    const delays = [], fromSigning = [];
    for (const text of texts) {
      const post = feed.find((p) => p.body === text);
      const at = stored[post.seq];
      for (const p of pages) {
        const got = await p.evaluate((x) => window.__arrived[x], text);
        delays.push(got - at);
        fromSigning.push(got - post.timestamp_ms);
      }
    }
    const d = stats(delays), s2 = stats(fromSigning);
    console.log(`event stream to ${BROWSERS} browsers, ${POSTS} posts (${d.n} deliveries): from A storing the post to the page: median ${d.median} ms, p90 ${d.p90} ms, max ${d.max} ms (ms resolution)`);
    console.log(`  from B signing it (gossip B to A included): median ${s2.median} ms, p90 ${s2.p90} ms, max ${s2.max} ms`);
  } finally {
    await browser.close();
    await a.stop();
    await b.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
