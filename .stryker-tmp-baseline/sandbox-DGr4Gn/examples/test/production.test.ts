/**
 * The production recipe (`examples/production.ts`), run as it would be deployed: configured by its
 * environment only, two replicas against the embedded token server, two APIs and a real Redis.
 */
// @ts-nocheck

import { ProtectedApi, RedisServer, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { interrupt, type Run, run } from "./utils/run.js"

const encryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

const pem = (key: Crypto.KeyObject) => key.export({ type: "pkcs8", format: "pem" }).toString()

/** The token server (orders by secret, billing by `private_key_jwt`), the two APIs, and the environment. */
const deployment = Effect.gen(function*() {
  const billingKey = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
  const billingJwk = { ...billingKey.publicKey.export({ format: "jwk" }), kid: "billing-2026" }
  const server = yield* TokenServer.make({
    scopes: ["orders", "billing"],
    clients: [
      { clientId: "orders-worker", clientSecret: "orders-secret-4f1c", scopes: ["orders"] },
      {
        clientId: "billing-worker",
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [billingJwk] },
        scopes: ["billing"]
      }
    ]
  })
  const api = (requiredScope: string) =>
    ProtectedApi.make({ requiredScope }).pipe(Effect.provideService(TokenServer.TokenServer, server))
  const env: Record<string, string> = {
    ORDERS_ISSUER: server.issuer,
    ORDERS_CLIENT_ID: "orders-worker",
    ORDERS_CLIENT_SECRET: Redacted.value(server.clients[0].clientSecret),
    ORDERS_SCOPE: "orders",
    ORDERS_API_URL: (yield* api("orders")).baseUrl,
    BILLING_ISSUER: server.issuer,
    BILLING_CLIENT_ID: "billing-worker",
    BILLING_PRIVATE_KEY: pem(billingKey.privateKey),
    BILLING_PRIVATE_KEY_ID: "billing-2026",
    BILLING_SCOPE: "billing",
    BILLING_API_URL: (yield* api("billing")).baseUrl,
    REDIS_URL: yield* RedisServer.RedisUrl,
    ACCESS_TOKEN_CACHE_ENCRYPTION_KEY: encryptionKey,
    ACCESS_TOKEN_CACHE_PREFIX: `production-${Date.now()}:`,
    READY_PORT: "0"
  }
  return { server, env }
})

/** The messages of the worker's JSON log lines. */
const messages = (worker: Run) =>
  worker.output().split("\n").filter((line) => line.startsWith("{")).map((line) =>
    String((JSON.parse(line) as { readonly message: unknown }).message)
  )

const readyPort = (worker: Run) => {
  const listening = messages(worker).find((message) => message.startsWith("Listening on "))
  assert.isDefined(listening, worker.output())
  return Number(/:(\d+)$/.exec(listening!)![1])
}

const started = (worker: Run) =>
  Promise.all([worker.waitFor("Orders API response: ", 1), worker.waitFor("Billing API response: ", 1)]).catch(
    (error) => {
      worker.child.kill("SIGKILL")
      throw error
    }
  )

describe("examples/production.ts", () => {
  it.live(
    "two replicas share one token per client through Redis and answer their readiness probe",
    () =>
      Effect.gen(function*() {
        const { env, server } = yield* deployment
        const first = run("production.ts", env)
        yield* Effect.promise(() => started(first))
        const second = run("production.ts", env)
        yield* Effect.promise(() => started(second))

        for (const replica of [first, second]) {
          const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${readyPort(replica)}/ready`))
          assert.strictEqual(response.status, 200)
          assert.deepStrictEqual(yield* Effect.promise(() => response.json()), {
            ready: true,
            clients: [{ client: "orders", ready: true }, { client: "billing", ready: true }]
          })
        }
        const exits = yield* Effect.promise(() => Promise.all([interrupt(first), interrupt(second)]))

        // The second replica found both tokens in Redis: one request per client, each authenticated as configured.
        const requests = yield* server.tokenRequests
        assert.deepStrictEqual(
          requests.map((request) => [request.clientId, request.clientAuthMethod, request.outcome]).sort(),
          [["billing-worker", "private_key_jwt", "success"], ["orders-worker", "client_secret_basic", "success"]]
        )
        for (const replica of [first, second]) {
          const output = messages(replica)
          assert.isTrue(output.some((line) => line.includes(`"value":"billing-worker"`)), replica.output())
          assert.isTrue(output.some((line) => line.includes(`"value":"orders-worker"`)), replica.output())
          assert.notInclude(replica.output(), "orders-secret-4f1c")
          assert.notInclude(replica.output(), "PRIVATE KEY")
          assert.strictEqual(replica.errors(), "")
        }
        for (const exit of exits) assert.isBelow(exit.elapsed, 2000)
      }).pipe(Effect.provide(RedisServer.layerUrl), Effect.scoped),
    120_000
  )

  it.live(
    "stops at start, naming the client, when the token endpoint refuses its key (fail-fast)",
    () =>
      Effect.gen(function*() {
        const { env, server } = yield* deployment
        const unknownKey = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
        const worker = run("production.ts", { ...env, BILLING_PRIVATE_KEY: pem(unknownKey) })
        const exit = yield* Effect.promise(() => worker.exited)
        assert.strictEqual(exit.code, 1)
        const output = worker.output() + worker.errors()
        assert.include(output, "invalid_client")
        assert.include(output, `"billing"`)
        assert.notInclude(output, "API response")
        assert.notInclude(output, "PRIVATE KEY")
        const requests = yield* server.tokenRequests
        assert.deepInclude(requests.map((request) => [request.clientId, request.outcome]), ["billing-worker", "error"])
      }).pipe(Effect.provide(RedisServer.layerUrl), Effect.scoped),
    120_000
  )

  it.live("refuses to start without the cache's encryption key, naming the variable", () =>
    Effect.gen(function*() {
      const { env } = yield* deployment
      const { ACCESS_TOKEN_CACHE_ENCRYPTION_KEY: _, ...withoutKey } = env
      const worker = run("production.ts", withoutKey)
      const exit = yield* Effect.promise(() => worker.exited)
      assert.strictEqual(exit.code, 1)
      assert.include(worker.output() + worker.errors(), "ACCESS_TOKEN_CACHE_ENCRYPTION_KEY")
      assert.notInclude(worker.output(), "API response")
    }).pipe(Effect.provide(RedisServer.layerUrl), Effect.scoped), 120_000)
})
