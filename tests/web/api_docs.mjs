// Runs every example of docs/API.md against a real node and checks the
// status and the shape of each response (the same keys, of the same JSON
// types; a documented null matches any value).
//
//   node api_docs.mjs SAMIZDAT_BINARY WORK_DIR [DOC]          check
//   node api_docs.mjs SAMIZDAT_BINARY WORK_DIR DOC --write    fill in the responses
import fs from 'node:fs';
import path from 'node:path';
import { Node, binaryFromArgs, link, request, waitFor } from './nodes.mjs';

const { bin, work } = binaryFromArgs();
const docPath = process.argv[4] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '../../docs/API.md');
const write = process.argv.includes('--write');

function examples(doc) {
  const re = /```http\n([\s\S]*?)```\n\n```http-response\n([\s\S]*?)```/g;
  const out = [];
  for (let m; (m = re.exec(doc)) !== null;) {
    out.push({ req: m[1], resp: m[2], at: m.index, respAt: m.index + m[0].indexOf('```http-response') + 17 });
  }
  return out;
}

function parseRequest(text, vars) {
  const blank = text.indexOf('\n\n');
  const head = (blank < 0 ? text : text.slice(0, blank)).trim().split('\n');
  const body = blank < 0 ? undefined : text.slice(blank + 2).replace(/\n$/, '');
  const [method, target] = head[0].split(' ');
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim()] = fill(line.slice(i + 1).trim(), vars);
  }
  return { method, target: fill(target, vars), headers, body: body === undefined ? undefined : fillBody(body, vars) };
}

function fill(s, vars) {
  return s.replace(/\{([A-Z_]+)\}/g, (m, k) => {
    if (!(k in vars)) throw new Error(`no value for ${m}`);
    return vars[k];
  });
}

function fillBody(s, vars) {
  return s.trim() === '{FEED}' ? vars.FEED_BYTES : Buffer.from(fill(s, vars));
}

function shape(doc, actual, where, errors) {
  if (doc === null) return;
  if (Array.isArray(doc)) {
    if (!Array.isArray(actual)) { errors.push(`${where}: an array in the doc, ${JSON.stringify(actual)} here`); return; }
    if (doc.length > 0 && actual.length > 0) shape(doc[0], actual[0], `${where}[0]`, errors);
    return;
  }
  if (typeof doc === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      errors.push(`${where}: an object in the doc, ${JSON.stringify(actual)} here`);
      return;
    }
    const dk = Object.keys(doc).sort(), ak = Object.keys(actual).sort();
    for (const k of dk) if (!ak.includes(k)) errors.push(`${where}.${k}: in the doc, missing here`);
    for (const k of ak) if (!dk.includes(k)) errors.push(`${where}.${k}: here, missing in the doc`);
    for (const k of dk) if (ak.includes(k)) shape(doc[k], actual[k], `${where}.${k}`, errors);
    return;
  }
  if (typeof doc !== typeof actual && actual !== null) {
    errors.push(`${where}: ${typeof doc} in the doc, ${JSON.stringify(actual)} here`);
  }
}

async function run(ex, vars, base) {
  const r = parseRequest(ex.req, vars);
  const url = base.replace(/\/$/, '') + r.target;
  if ((r.headers.Accept ?? '').includes('event-stream') || r.target.endsWith('/events')) {
    const res = await fetch(url, { headers: r.headers });
    const reader = res.body.getReader();
    const first = await reader.read();
    await reader.cancel();
    return { status: res.status, type: res.headers.get('content-type'), text: Buffer.from(first.value ?? []).toString() };
  }
  const res = await request(url, { method: r.method, headers: r.headers, body: r.body });
  return { status: res.status, type: res.headers['content-type'], body: res.body };
}

async function main() {
  fs.rmSync(work, { recursive: true, force: true });
  const a = await new Node(bin, path.join(work, 'a'), 'A').start();
  const b = await new Node(bin, path.join(work, 'b'), 'B').start();
  let doc = fs.readFileSync(docPath, 'utf8');
  const failures = [];
  try {
    await link(a, b);
    b.cli(['profile', '--name', 'Bea']);
    b.cli(['post', 'a post of B']);
    await waitFor("B's posts at A", () => JSON.parse(a.cli(['--json', 'feed', b.author])).posts.length >= 2);
    const first = JSON.parse(a.cli(['--json', 'post', 'the first post']));
    const token = (scope) => a.cli(['token', 'create', '--scope', scope, '--name', `docs-${scope}`]).trim();
    const vars = {
      TOKEN_READ: token('read'), TOKEN_POST: token('post'), TOKEN_ADMIN: token('admin'),
      SELF: a.author, AUTHOR: b.author, NODE: b.nodeKey, ENDPOINT: b.endpoint,
      INVITE: b.cli(['invite']).trim(), POST: first.id, FEED_BYTES: Buffer.alloc(0),
    };
    const all = examples(doc);
    const replacements = [];
    for (const ex of all) {
      const title = ex.req.split('\n')[0];
      const got = await run(ex, vars, a.base);
      const wantStatus = Number(ex.resp.split('\n')[0]);
      const wantBody = ex.resp.split('\n').slice(1).join('\n').trim();
      const errors = [];
      if (got.status !== wantStatus) errors.push(`status ${got.status}, the doc says ${wantStatus}`);
      let actual = null;
      if (wantBody.startsWith('(')) {
        if (wantBody.includes('event stream') && !(got.type ?? '').startsWith('text/event-stream')) errors.push(`type ${got.type}`);
        if (wantBody.includes('event stream') && !got.text.startsWith('retry:')) errors.push(`stream began ${JSON.stringify(got.text)}`);
        if (wantBody.includes('feed file')) {
          if (got.type !== 'application/octet-stream') errors.push(`type ${got.type}`);
          vars.FEED_BYTES = got.body;
        }
      } else {
        try {
          actual = JSON.parse(got.body.toString());
        } catch {
          errors.push(`not JSON: ${got.body.toString().slice(0, 200)}`);
        }
        if (actual !== null) {
          if (actual.id && actual.kind) vars.POST = actual.id;
          if (!write) shape(JSON.parse(wantBody), actual, '$', errors);
          replacements.push({ at: ex.respAt, len: ex.resp.length, text: `${got.status}\n${JSON.stringify(actual, null, 2)}\n` });
        }
      }
      console.log(`${errors.length ? 'FAIL' : 'ok  '} ${title} -> ${got.status}`);
      for (const e of errors) console.log(`       ${e}`);
      if (errors.length && !write) failures.push(title);
    }
    if (write) {
      for (const r of replacements.reverse()) doc = doc.slice(0, r.at) + r.text + doc.slice(r.at + r.len);
      fs.writeFileSync(docPath, doc);
      console.log(`wrote ${replacements.length} responses into ${docPath}`);
    }
    console.log(`${all.length} examples, ${failures.length} failed`);
  } finally {
    await a.stop();
    await b.stop();
  }
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
