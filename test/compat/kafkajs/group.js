#!/usr/bin/env node
// Consumer-group scenarios with KafkaJS (pinned in package.json).
//
//   node group.js ADDR TOPIC N [resume|split]
//
// TOPIC must exist with at least 2 partitions. Group ids are derived from
// TOPIC. Exits 0 and prints "OK <scenario>" on success, non-zero on any
// mismatch, and 3 if the scenario is still running after 90 s.
//
// resume (default): produce N records; a consumer subscribes (fromBeginning)
//   and runs eachMessage until it has all N, commits them with
//   commitOffsets and disconnects; the group's committed offsets are the
//   log end offsets. N/2 more records are produced; a new consumer in the
//   same group receives exactly those (nothing committed is re-delivered).
// split: two consumers in one group; once the group has split the
//   partitions between them (disjoint, both non-empty, covering the topic)
//   N records are produced; together they receive each exactly once, each
//   only from its own partitions; both commit and disconnect, and the
//   committed offsets are the log end offsets.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel } = require('kafkajs')

const DEADLINE_MS = 90000
const WAIT_MS = 30000 // each wait on the broker
const start = Date.now()

class Mismatch extends Error {}

function log (msg) {
  process.stderr.write(`[${((Date.now() - start) / 1000).toFixed(2).padStart(6)}s] ${msg}\n`)
}

function expect (cond, msg) {
  if (!cond) throw new Mismatch(msg)
}

function values (tag, n) {
  return Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(3, '0')}`)
}

// Resolves when cond() is true; polls every 20 ms (the clients run in the
// background), fails after WAIT_MS.
async function waitUntil (what, cond) {
  const end = Date.now() + WAIT_MS
  while (!cond()) {
    if (Date.now() > end) throw new Mismatch(`timed out after ${WAIT_MS / 1000}s waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

// got: [{partition, offset, value}]; want: values. Every wanted value
// exactly once, nothing else, offsets growing within a partition.
function checkExactly (what, got, want) {
  const counts = new Map()
  for (const r of got) counts.set(r.value, (counts.get(r.value) || 0) + 1)
  const dups = [...counts].filter(([, c]) => c > 1).map(([v]) => v).sort()
  const wantSet = new Set(want)
  const missing = want.filter(v => !counts.has(v))
  const extra = [...counts.keys()].filter(v => !wantSet.has(v)).sort()
  expect(dups.length === 0 && missing.length === 0 && extra.length === 0,
    `${what}: ${got.length} records, ${counts.size} distinct; duplicates ${JSON.stringify(dups.slice(0, 20))}; ` +
    `missing ${JSON.stringify(missing.slice(0, 20))}; unexpected ${JSON.stringify(extra.slice(0, 20))}`)
  const last = new Map()
  for (const r of got) {
    const prev = last.has(r.partition) ? last.get(r.partition) : -1
    expect(r.offset > prev, `${what}: partition ${r.partition} offset ${r.offset} (${r.value}) after offset ${prev}`)
    last.set(r.partition, r.offset)
  }
}

function newKafka (addr) {
  return new Kafka({
    clientId: 'arus-compat-kafkajs',
    brokers: [addr],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: WAIT_MS,
    retry: { retries: 5, initialRetryTime: 100 }
  })
}

async function partitionCount (admin, topic) {
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  const n = md.topics[0].partitions.length
  expect(n >= 2, `topic ${topic} has ${n} partitions, the scenario needs at least 2`)
  return n
}

async function produce (kafka, topic, vals, partitions) {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    const res = await producer.send({
      topic,
      acks: -1,
      messages: vals.map((v, i) => ({ key: v, value: v, partition: i % partitions }))
    })
    for (const r of res) expect(r.errorCode === 0, `produce to partition ${r.partition}: error code ${r.errorCode}`)
  } finally {
    await producer.disconnect()
  }
  log(`produced ${vals.length} records`)
}

// The group's committed offsets, read with OffsetFetch by the admin
// client, must be the log end offsets.
async function checkCommittedAtEnd (admin, topic, groupId) {
  const ends = await admin.fetchTopicOffsets(topic)
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
  expect(committed && committed.topic === topic, `fetchOffsets(${groupId}): ${JSON.stringify(committed)}`)
  const byPartition = new Map(committed.partitions.map(p => [p.partition, p.offset]))
  for (const e of ends) {
    expect(byPartition.get(e.partition) === e.high,
      `group ${groupId} partition ${e.partition}: committed offset ${byPartition.get(e.partition)}, log end offset ${e.high}`)
  }
  log(`committed offsets are the log end offsets: ${JSON.stringify([...byPartition].sort((a, b) => a[0] - b[0]))}`)
}

// A group member: joins, runs eachMessage, records what it got and the
// assignment of its latest GROUP_JOIN.
class Member {
  constructor (kafka, name, topic, groupId) {
    this.name = name
    this.topic = topic
    this.got = []
    this.assigned = new Set()
    this.generations = 0
    this.crashed = null
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10000,
      rebalanceTimeout: 20000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
      retry: { retries: 5, initialRetryTime: 100 }
    })
    const { GROUP_JOIN, CRASH } = this.consumer.events
    this.consumer.on(GROUP_JOIN, e => {
      this.generations++
      this.assigned = new Set(e.payload.memberAssignment[topic] || [])
      log(`${name}: joined (leader ${e.payload.isLeader}), assigned ${JSON.stringify([...this.assigned].sort())}`)
    })
    this.consumer.on(CRASH, e => {
      this.crashed = e.payload.error
      log(`${name}: crashed: ${e.payload.error && e.payload.error.stack}`)
    })
  }

  async start () {
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        expect(topic === this.topic, `${this.name}: record from topic ${topic}`)
        this.got.push({ partition, offset: Number(message.offset), value: message.value.toString() })
      }
    })
  }

  ok () {
    if (this.crashed) throw new Mismatch(`${this.name}: consumer crashed: ${this.crashed}`)
    return true
  }

  // Commits, for each partition it read, the offset after the last record.
  async commit () {
    const next = new Map()
    for (const r of this.got) next.set(r.partition, r.offset + 1)
    const offsets = [...next].map(([partition, o]) => ({ topic: this.topic, partition, offset: String(o) }))
    await this.consumer.commitOffsets(offsets)
    log(`${this.name}: committed ${JSON.stringify([...next].sort((a, b) => a[0] - b[0]))}`)
  }
}

async function resume (kafka, admin, topic, n) {
  const groupId = `${topic}-group`
  const partitions = await partitionCount(admin, topic)
  const first = values('resume-a', n)
  await produce(kafka, topic, first, partitions)

  const m1 = new Member(kafka, 'consumer-1', topic, groupId)
  await m1.start()
  await waitUntil(`consumer-1 to receive ${n} records`, () => m1.ok() && m1.got.length >= n)
  checkExactly('consumer-1', m1.got, first)
  expect(m1.assigned.size === partitions, `consumer-1 alone was assigned ${[...m1.assigned]} of ${partitions} partitions`)
  await m1.commit()
  await m1.consumer.disconnect()
  await checkCommittedAtEnd(admin, topic, groupId)

  const second = values('resume-b', Math.max(1, Math.floor(n / 2)))
  await produce(kafka, topic, second, partitions)
  const m2 = new Member(kafka, 'consumer-2', topic, groupId)
  await m2.start()
  // Records of a partition arrive in offset order, so anything committed
  // that came back would arrive before the new records.
  await waitUntil('consumer-2 (same group, after the commit) to receive the new records', () => {
    const seen = new Set(m2.got.map(r => r.value))
    return m2.ok() && second.every(v => seen.has(v))
  })
  checkExactly('consumer-2 after restart (only records produced after the commit)', m2.got, second)
  await m2.commit()
  await m2.consumer.disconnect()
  await checkCommittedAtEnd(admin, topic, groupId)
}

async function split (kafka, admin, topic, n) {
  const groupId = `${topic}-group`
  const partitions = await partitionCount(admin, topic)
  const members = [1, 2].map(i => new Member(kafka, `consumer-${i}`, topic, groupId))
  await Promise.all(members.map(m => m.start()))
  const balanced = () => {
    const [a, b] = members.map(m => m.assigned)
    const union = new Set([...a, ...b])
    return a.size > 0 && b.size > 0 && [...a].every(p => !b.has(p)) && union.size === partitions
  }
  await waitUntil(`both members to share the ${partitions} partitions`, () => members.every(m => m.ok()) && balanced())
  log(`group split: ${members.map(m => JSON.stringify([...m.assigned].sort())).join(' / ')}`)

  const vals = values('split', n)
  await produce(kafka, topic, vals, partitions)
  await waitUntil(`the two members to receive ${n} records`,
    () => members.every(m => m.ok()) && members[0].got.length + members[1].got.length >= n)
  expect(balanced(), `assignment changed while consuming: ${members.map(m => JSON.stringify([...m.assigned])).join(' / ')}`)
  checkExactly('both members together', members[0].got.concat(members[1].got), vals)
  for (const m of members) {
    expect(m.got.length > 0, `${m.name} received nothing`)
    const stray = [...new Set(m.got.map(r => r.partition))].filter(p => !m.assigned.has(p))
    expect(stray.length === 0, `${m.name} received partitions ${stray} it was not assigned (${[...m.assigned]})`)
  }
  for (const m of members) await m.commit()
  for (const m of members) await m.consumer.disconnect()
  await checkCommittedAtEnd(admin, topic, groupId)
}

async function main () {
  const [addr, topic, nArg, name = 'resume'] = process.argv.slice(2)
  const scenarios = { resume, split }
  const n = Number(nArg)
  if (!addr || !topic || !Number.isInteger(n) || n < 1 || !scenarios[name]) {
    process.stderr.write('usage: node group.js ADDR TOPIC N [resume|split]\n')
    process.exit(2)
  }
  const timer = setTimeout(() => {
    process.stderr.write(`FAIL ${name}: still running after ${DEADLINE_MS / 1000}s\n`)
    process.exit(3)
  }, DEADLINE_MS)
  const kafka = newKafka(addr)
  const admin = kafka.admin()
  try {
    await admin.connect()
    await scenarios[name](kafka, admin, topic, n)
    await admin.disconnect()
  } catch (e) {
    process.stderr.write(`FAIL ${name}: ${e instanceof Mismatch ? e.message : e.stack || e}\n`)
    process.exit(1)
  }
  clearTimeout(timer)
  process.stdout.write(`OK ${name}\n`)
  process.exit(0)
}

main()
