/**
 * Worker replicas as real processes (`test/fixtures/replica.ts`), sharing one Redis and one token
 * endpoint.
 */
// @ts-nocheck

import { LoopbackServer, RedisServer } from "@access-token/testing"
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, FiberId } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as path from "node:path"
import * as readline from "node:readline"

const packageDir = path.resolve(import.meta.dirname, "..")
const repositoryDir = path.resolve(packageDir, "..", "..")
const replicaScript = path.join(import.meta.dirname, "fixtures", "replica.ts")

/** How long the token endpoint takes to answer. */
const endpointLatency = 300

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex")

/**
 * A token endpoint on loopback that counts requests, notes which replica sent each, and issues
 * `replica-token-<n>` after {@link endpointLatency}; with `hangFirst`, it never answers the first.
 */
const tokenEndpoint = (options: { readonly hangFirst: boolean }) =>
  Effect.gen(function*() {
    const requests: Array<string> = []
    const first = yield* Deferred.make<string>()
    const server = yield* LoopbackServer.make((request, response, n) => {
      const replica = String(request.headers["x-replica"])
      requests.push(replica)
      if (n === 1) Deferred.unsafeDone(first, Exit.succeed(replica))
      if (options.hangFirst && n === 1) return
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ access_token: `replica-token-${n}`, token_type: "Bearer", expires_in: 3600 }))
      }, endpointLatency)
    })
    return { url: `${server.origin}/connect/token`, requests, first }
  })

interface Replica {
  readonly child: ChildProcessWithoutNullStreams
  readonly ready: Deferred.Deferred<void, Error>
  /** The hash of the token it printed, and when (`Date.now()`) it printed it. */
  readonly token: Deferred.Deferred<{ readonly hash: string; readonly at: number }, Error>
  readonly exited: Deferred.Deferred<NodeJS.Signals | number | null>
}

/** Starts one replica process, killed when the scope closes if it is still running. */
const startReplica = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Replica => {
      const child = spawn(process.execPath, ["--import", "tsx", replicaScript], {
        cwd: repositoryDir,
        env: { ...process.env, TSX_TSCONFIG_PATH: path.join(packageDir, "tsconfig.test.json"), ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      const ready = Deferred.unsafeMake<void, Error>(FiberId.none)
      const token = Deferred.unsafeMake<{ readonly hash: string; readonly at: number }, Error>(FiberId.none)
      const exited = Deferred.unsafeMake<NodeJS.Signals | number | null>(FiberId.none)
      let stderr = ""
      child.stderr.on("data", (chunk) => (stderr += chunk.toString("utf8")))
      readline.createInterface({ input: child.stdout }).on("line", (line) => {
        if (!line.startsWith("@replica ")) return
        const message = JSON.parse(line.slice("@replica ".length))
        if (message.event === "ready") Deferred.unsafeDone(ready, Exit.void)
        if (message.event === "token") Deferred.unsafeDone(token, Exit.succeed({ hash: message.hash, at: Date.now() }))
      })
      child.on("exit", (code, signal) => {
        const failure = Exit.fail(new Error(`replica ${child.pid} exited (${signal ?? code}): ${stderr}`))
        Deferred.unsafeDone(ready, failure)
        Deferred.unsafeDone(token, failure)
        Deferred.unsafeDone(exited, Exit.succeed(signal ?? code))
      })
      return { child, ready, token, exited }
    }),
    ({ child, exited }) =>
      Effect.suspend(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        return Deferred.await(exited)
      })
  )

/** Starts four replicas, waits until each has built its layers, then lets them all ask at once. */
const startReplicas = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const replicas = yield* Effect.all(Array.from({ length: 4 }, () => startReplica(env)), { concurrency: "unbounded" })
    yield* Effect.forEach(replicas, (replica) => Deferred.await(replica.ready))
    for (const replica of replicas) replica.child.stdin.write("go\n")
    return replicas
  })

const replicaEnv = (redisUrl: string, tokenEndpoint: string, lockTimeToLive: number) => ({
  REDIS_URL: redisUrl,
  TOKEN_ENDPOINT: tokenEndpoint,
  CACHE_PREFIX: `access-token-test:${crypto.randomUUID()}:`,
  ENCRYPTION_KEY: crypto.randomBytes(32).toString("base64"),
  LOCK_TIME_TO_LIVE_MS: String(lockTimeToLive)
})

layer(RedisServer.layerUrl, { excludeTestServices: true, timeout: "10 seconds" })("RedisTokenCache replicas", (it) => {
  it.scoped(
    "four replicas starting cold make one token request, and all print its token",
    () =>
      Effect.gen(function*() {
        const redisUrl = yield* RedisServer.RedisUrl
        const endpoint = yield* tokenEndpoint({ hangFirst: false })
        const replicas = yield* startReplicas(replicaEnv(redisUrl, endpoint.url, 10_000))
        const tokens = yield* Effect.forEach(replicas, (replica) => Deferred.await(replica.token))
        assert.strictEqual(endpoint.requests.length, 1, "one token request for four replicas")
        assert.deepStrictEqual(tokens.map(({ hash }) => hash), Array(4).fill(sha256("replica-token-1")))
      }),
    30_000
  )

  it.scoped(
    "when the replica requesting the token dies, another requests it within the lock's time to live",
    () =>
      Effect.gen(function*() {
        const redisUrl = yield* RedisServer.RedisUrl
        const lockTimeToLive = 1_000
        const endpoint = yield* tokenEndpoint({ hangFirst: true })
        const replicas = yield* startReplicas(replicaEnv(redisUrl, endpoint.url, lockTimeToLive))
        const holderPid = yield* Deferred.await(endpoint.first)
        const holder = replicas.find((replica) => String(replica.child.pid) === holderPid)
        assert.isDefined(holder, "the first request comes from a replica")
        const killedAt = Date.now()
        holder!.child.kill("SIGKILL")
        assert.strictEqual(yield* Deferred.await(holder!.exited), "SIGKILL")

        const survivors = replicas.filter((replica) => replica !== holder)
        const tokens = yield* Effect.forEach(survivors, (replica) => Deferred.await(replica.token))
        assert.strictEqual(endpoint.requests.length, 2, "one more request, by one survivor")
        assert.notStrictEqual(endpoint.requests[1], holderPid)
        assert.deepStrictEqual(tokens.map(({ hash }) => hash), Array(3).fill(sha256("replica-token-2")))
        // The lock expires at most its time to live after the kill; then one request, plus slack.
        const bound = lockTimeToLive + endpointLatency + 2_000
        for (const { at } of tokens) assert.isTrue(at - killedAt < bound, `done ${at - killedAt} ms after the kill`)
      }),
    30_000
  )
})
