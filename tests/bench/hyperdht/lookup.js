// hyperdht beside bench_dht: N hyperdht nodes (default 100), each a process
// of its own on loopback, joined from one bootstrap node; A of them
// (default 30) announce a topic each; after a settling pause each topic is
// looked up once, one lookup at a time, from another node. Prints the same
// table as bench_dht: p50/p90/p99/max of the lookups' own times and how
// many found the announcer.
//
//     node lookup.js [--nodes 100] [--authors 30] [--settle 5]
'use strict'
const { fork } = require('child_process')
const crypto = require('crypto')
const path = require('path')
const DHT = require('hyperdht')

function arg (name, def) {
  const i = process.argv.indexOf(name)
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : def
}

const NODES = arg('--nodes', 100)
const AUTHORS = arg('--authors', 30)
const SETTLE = arg('--settle', 5)

function ask (child, msg, want) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.op === want || m.op === 'error') {
        child.off('message', on)
        if (m.op === 'error') reject(new Error(m.message))
        else resolve(m)
      }
    }
    child.on('message', on)
    if (msg) child.send(msg)
  })
}

function quantile (sorted, q) {
  return sorted.length ? sorted[Math.round(q * (sorted.length - 1))] : 0
}

async function main () {
  if (NODES < 4 || AUTHORS < 1 || AUTHORS > NODES - 2) {
    console.error('usage: node lookup.js [--nodes N>=4] [--authors 1..N-2] [--settle S]')
    process.exit(2)
  }
  // The first node bootstraps the others, as hyperdht's own testnet does.
  const boot = new DHT({ ephemeral: false, firewalled: false, bootstrap: [], port: 0, host: '127.0.0.1' })
  await boot.fullyBootstrapped()
  const port = boot.address().port
  const t0 = Date.now()
  const kids = []
  // Started in batches, like the swarm of bench_dht comes up one by one.
  for (let i = 0; i < NODES - 1; i++) {
    const child = fork(path.join(__dirname, 'node.js'), [String(port)])
    kids.push(child)
    await ask(child, null, 'ready')
  }
  console.log(`${NODES} nodes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const topics = []
  for (let j = 0; j < AUTHORS; j++) {
    const topic = crypto.randomBytes(32).toString('hex')
    const r = await ask(kids[j + 1], { op: 'announce', topic }, 'announced')
    topics.push({ topic, key: r.key, at: j + 1 })
  }
  await new Promise((resolve) => setTimeout(resolve, SETTLE * 1000))
  const ms = []
  let found = 0
  for (const t of topics) {
    let i = (t.at + Math.floor(kids.length / 2)) % kids.length
    if (i === t.at) i = (i + 1) % kids.length
    const r = await ask(kids[i], { op: 'lookup', topic: t.topic, want: t.key }, 'looked')
    ms.push(r.ms)
    if (r.found) found++
  }
  ms.sort((a, b) => a - b)
  const f = (x) => `${Math.round(x)} ms`
  console.log('| nodes | lookups | found | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|')
  console.log(`| ${NODES} (hyperdht) | ${ms.length} | ${found} of ${ms.length} | ${f(quantile(ms, 0.5))} | ` +
              `${f(quantile(ms, 0.9))} | ${f(quantile(ms, 0.99))} | ${f(ms[ms.length - 1])} |`)
  for (const k of kids) k.send({ op: 'exit' })
  await boot.destroy()
  setTimeout(() => process.exit(0), 2000)
}

main().catch((err) => { console.error(err); process.exit(1) })
