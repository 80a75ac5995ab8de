// One hyperdht node in a process of its own, driven by its parent
// (lookup.js) over the fork channel: it joins from the bootstrap node it
// is given, then announces or looks up topics when asked.
'use strict'
const DHT = require('hyperdht')

const bootstrap = [{ host: '127.0.0.1', port: Number(process.argv[2]) }]
const node = new DHT({ ephemeral: false, firewalled: false, bootstrap, host: '127.0.0.1' })

async function lookup (topic, want) {
  const t0 = process.hrtime.bigint()
  let found = false
  for await (const data of node.lookup(topic)) {
    for (const peer of data.peers) {
      if (peer.publicKey.toString('hex') === want) found = true
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  return { ms, found }
}

process.on('message', async (m) => {
  try {
    if (m.op === 'announce') {
      const keyPair = DHT.keyPair()
      await node.announce(Buffer.from(m.topic, 'hex'), keyPair).finished()
      process.send({ op: 'announced', key: keyPair.publicKey.toString('hex') })
    } else if (m.op === 'lookup') {
      const r = await lookup(Buffer.from(m.topic, 'hex'), m.want)
      process.send({ op: 'looked', ms: r.ms, found: r.found })
    } else if (m.op === 'exit') {
      await node.destroy()
      process.exit(0)
    }
  } catch (err) {
    process.send({ op: 'error', message: String(err && err.message) })
  }
})

node.fullyBootstrapped().then(() => process.send({ op: 'ready' }))
