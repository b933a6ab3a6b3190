// @ts-nocheck
import { ProtectedApi, RedisServer, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as path from "node:path"
import { interrupt, type Run, run } from "./utils/run.js"

describe("examples/worker.ts", () => {
  it.live(
    "runs cycles against the embedded token server and stops cleanly on Ctrl-C",
    () =>
      Effect.promise(async () => {
        const worker = run("worker.ts")
        await worker.waitFor("API response:", 3).catch((error) => {
          worker.child.kill("SIGKILL")
          throw error
        })
        const exit = await interrupt(worker)
        const output = worker.output()
        assert.include(output, "Embedded token server at http://127.0.0.1:")
        assert.isAtLeast(output.split("Worker running at: ").length - 1, 3)
        const responses = output.split("\n").filter((line) => line.includes("API response: "))
        const claims = JSON.parse(responses[0].slice(responses[0].indexOf("API response: ") + 14)) as Array<
          { type: string; value: string }
        >
        assert.deepInclude(claims, { type: "client_id", value: "m2m" })
        assert.deepInclude(claims, { type: "scope", value: "api" })
        assert.notInclude(output, "API call failed")
        assert.strictEqual(worker.errors(), "")
        assert.notMatch(output, /\bat .+:\d+:\d+\)/, "no stack trace")
        assert.isBelow(exit.elapsed, 1000)
      }),
    30_000
  )

  it.scoped("talks to the token endpoint and API of its environment, unchanged", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "external-worker", clientSecret: "p@ss:w+rd%/ x~", scopes: ["api"] }]
      })
      const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
      const worker = run("worker.ts", {
        IDENTITYSERVER_TOKEN_ENDPOINT: server.tokenEndpoint,
        IDENTITYSERVER_CLIENT_ID: "external-worker",
        IDENTITYSERVER_CLIENT_SECRET: Redacted.value(server.clients[0].clientSecret),
        IDENTITYSERVER_SCOPE: "api",
        API_BASE_URL: api.baseUrl
      })
      yield* Effect.promise(() => worker.waitFor("API response:", 2).finally(() => worker.child.kill("SIGINT")))
      yield* Effect.promise(() => worker.exited)
      const output = worker.output()
      assert.notInclude(output, "Embedded token server")
      assert.include(output, `{"type":"client_id","value":"external-worker"}`)
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => [request.clientId, request.outcome]), [[
        "external-worker",
        "success"
      ]])
      assert.notInclude(output, "p@ss:w+rd%/ x~")
    }), 30_000)
})

describe("worker.ts configured by issuer", () => {
  it.scoped(
    "finds the token endpoint in the metadata of an issuer with a path, given only the issuer",
    () =>
      Effect.gen(function*() {
        const server = yield* TokenServer.make({
          issuerPath: "/tenants/acme",
          clients: [{ clientId: "issuer-worker", clientSecret: "issuer-secret", scopes: ["api"] }]
        })
        const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
        const worker = run("worker.ts", {
          IDENTITYSERVER_ISSUER: server.issuer,
          IDENTITYSERVER_CLIENT_ID: "issuer-worker",
          IDENTITYSERVER_CLIENT_SECRET: "issuer-secret",
          IDENTITYSERVER_SCOPE: "api",
          API_BASE_URL: api.baseUrl
        })
        yield* Effect.promise(() => worker.waitFor("API response:", 2).finally(() => worker.child.kill("SIGINT")))
        yield* Effect.promise(() => worker.exited)
        assert.notInclude(worker.output(), "API call failed")
        assert.notInclude(worker.output(), "Embedded token server")
        assert.strictEqual(yield* server.metadataRequestCount, 1)
        const requests = yield* server.tokenRequests
        assert.deepStrictEqual(requests.map((request) => [request.clientId, request.outcome]), [[
          "issuer-worker",
          "success"
        ]])
      }),
    30_000
  )
})

/** A token server with a client per API, the two APIs, and the environment that points the example at them. */
const twoApis = Effect.gen(function*() {
  const server = yield* TokenServer.make({
    scopes: ["orders", "billing"],
    clients: [
      { clientId: "orders-worker", clientSecret: "orders-secret", scopes: ["orders"] },
      { clientId: "billing-worker", clientSecret: "billing-secret", scopes: ["billing"] }
    ]
  })
  const api = (requiredScope: string) =>
    ProtectedApi.make({ requiredScope }).pipe(Effect.provideService(TokenServer.TokenServer, server))
  const orders = yield* api("orders")
  const billing = yield* api("billing")
  const env: Record<string, string> = {
    ORDERS_TOKEN_ENDPOINT: server.tokenEndpoint,
    ORDERS_CLIENT_ID: "orders-worker",
    ORDERS_CLIENT_SECRET: "orders-secret",
    ORDERS_SCOPE: "orders",
    ORDERS_API_URL: orders.baseUrl,
    BILLING_TOKEN_ENDPOINT: server.tokenEndpoint,
    BILLING_CLIENT_ID: "billing-worker",
    BILLING_CLIENT_SECRET: "billing-secret",
    BILLING_SCOPE: "billing",
    BILLING_API_URL: billing.baseUrl,
    WORKER_CYCLES: "2"
  }
  return { server, env }
})

/** Waits for a run of the example to finish and checks what it printed. */
const finished = (worker: Run) =>
  Effect.gen(function*() {
    const exit = yield* Effect.promise(() => worker.exited)
    assert.strictEqual(exit.code, 0, worker.errors())
    const output = worker.output()
    assert.strictEqual(output.split("Orders API response:").length - 1, 2)
    assert.include(output, `{"type":"client_id","value":"orders-worker"}`)
    assert.include(output, `{"type":"client_id","value":"billing-worker"}`)
    assert.notInclude(output, "API call failed")
  })

describe("examples/two-apis.ts", () => {
  it.scoped(
    "calls two APIs with two token clients, and a restarted worker reuses its tokens from the file system",
    () =>
      Effect.gen(function*() {
        const { env, server } = yield* twoApis
        const cacheDir = Fs.mkdtempSync(path.join(Os.tmpdir(), "access-token-test-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(cacheDir, { recursive: true, force: true })))
        for (let restart = 0; restart < 2; restart++) {
          yield* finished(run("two-apis.ts", { ...env, TOKEN_CACHE_DIR: cacheDir }))
        }
        const requests = yield* server.tokenRequests
        assert.deepStrictEqual(requests.map((request) => request.clientId).sort(), ["billing-worker", "orders-worker"])
        assert.strictEqual((Fs.statSync(cacheDir).mode & 0o777).toString(8), "700")
      }),
    30_000
  )

  it.live("with REDIS_URL, three replicas starting together share one token per client", () =>
    Effect.gen(function*() {
      const { env, server } = yield* twoApis
      const redisUrl = yield* RedisServer.RedisUrl
      const prefix = `examples-${Date.now()}:`
      const replicas = Array.from({ length: 3 }, () =>
        run("two-apis.ts", {
          ...env,
          REDIS_URL: redisUrl,
          ACCESS_TOKEN_CACHE_PREFIX: prefix,
          ACCESS_TOKEN_CACHE_ENCRYPTION_KEY: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
        }))
      for (const replica of replicas) yield* finished(replica)
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => request.clientId).sort(), ["billing-worker", "orders-worker"])
    }).pipe(Effect.provide(RedisServer.layerUrl), Effect.scoped), 60_000)
})
