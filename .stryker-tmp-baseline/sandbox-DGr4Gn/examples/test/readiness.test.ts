// @ts-nocheck
import { LoopbackServer, ProtectedApi, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { interrupt, run } from "./utils/run.js"

interface Failure {
  readonly tag: string
  readonly code?: string
  readonly message: string
}

interface View {
  readonly ready: boolean
  readonly starting?: boolean
  readonly clients?: ReadonlyArray<{
    readonly client: string
    readonly ready: boolean
    readonly reason?: string
    readonly tokens: ReadonlyArray<{
      readonly usable: boolean
      readonly refreshFrom?: string
      readonly reason?: string
      readonly lastFailure?: Failure
      readonly consecutiveFailures: number
    }>
  }>
  readonly resolved?: {
    readonly held: number
    readonly ready: number
    readonly usable: number
    readonly failing: number
    readonly recentFailures: ReadonlyArray<Failure & { readonly client: string }>
  }
}

/** Three tenants the token server knows; the worker is given a wrong secret for initech. */
const tenants = ["acme", "globex", "initech"]
const tenantSecret = (tenant: string) => `${tenant}-secret-value`
const wrongSecret = "initech-wrong-secret-value"

const tenantSettings = (tokenEndpoint: string): Record<string, string> =>
  Object.fromEntries(tenants.flatMap((tenant) => {
    const prefix = `TENANT_${tenant.toUpperCase()}`
    return [
      [`${prefix}_TOKEN_ENDPOINT`, tokenEndpoint],
      [`${prefix}_CLIENT_ID`, `tenant-${tenant}`],
      [`${prefix}_CLIENT_SECRET`, tenant === "initech" ? wrongSecret : tenantSecret(tenant)],
      [`${prefix}_SCOPE`, "api"]
    ]
  }))

const probe = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, text: await response.text() }
  })

/**
 * The embedded token server behind a gate: while the gate is closed its token endpoint answers
 * `503`, as an authorization server that is still starting would; open, requests pass through.
 */
const gatedTokenServer = Effect.gen(function*() {
  const server = yield* TokenServer.make({
    clients: [
      { clientId: "ready-worker", clientSecret: "ready-secret", scopes: ["api"] },
      ...tenants.map((tenant) => ({
        clientId: `tenant-${tenant}`,
        clientSecret: tenantSecret(tenant),
        scopes: ["api"]
      }))
    ]
  })
  let open = false
  const gate = yield* LoopbackServer.make((request, response) => {
    if (!open) {
      response.writeHead(503, { "content-type": "text/plain" }).end("starting")
      return
    }
    void fetch(server.tokenEndpoint, {
      method: request.method,
      headers: {
        "content-type": String(request.headers["content-type"]),
        ...(request.headers.authorization === undefined ? {} : { authorization: request.headers.authorization })
      },
      body: request.body
    }).then(async (answer) => {
      response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" })
      response.end(await answer.text())
    }, () => response.socket?.destroy())
  })
  const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
  return { server, gate, api, open: () => (open = true) }
})

describe("examples/readiness.ts", () => {
  it.scopedLive(
    "answers /ready with 503 and the reasons while the token endpoint fails, then 200 once tokens flow for the worker and a tenant",
    () =>
      Effect.gen(function*() {
        const { api, gate, open } = yield* gatedTokenServer
        const worker = run("readiness.ts", {
          READY_PORT: "0",
          IDENTITYSERVER_TOKEN_ENDPOINT: `${gate.origin}/token`,
          IDENTITYSERVER_CLIENT_ID: "ready-worker",
          IDENTITYSERVER_CLIENT_SECRET: "ready-secret",
          IDENTITYSERVER_SCOPE: "api",
          API_BASE_URL: api.baseUrl,
          TENANTS: tenants.join(","),
          ...tenantSettings(`${gate.origin}/token`)
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => worker.child.kill("SIGKILL")))
        yield* Effect.promise(() => worker.waitFor("/ready", 1))
        const url = /Readiness endpoint at (\S+)/.exec(worker.output())![1]

        // Not ready: the service is starting, then its warm-up and every tenant fail with the 503.
        const failing = yield* probe(url).pipe(
          Effect.filterOrFail(({ text }) => (JSON.parse(text) as View).resolved?.failing === tenants.length),
          Effect.retry(Schedule.spaced("100 millis")),
          Effect.timeout("20 seconds")
        )
        assert.strictEqual(failing.status, 503)
        const notReady = JSON.parse(failing.text) as View
        assert.isFalse(notReady.ready)
        const [registered] = notReady.clients!
        assert.strictEqual(registered.reason, "failing")
        const [token] = registered.tokens
        assert.isFalse(token.usable)
        assert.strictEqual(token.reason, "failing")
        assert.deepInclude(token.lastFailure, { tag: "InvalidTokenResponseError", code: "503" })
        assert.include(token.lastFailure!.message, "HTTP 503")
        assert.isAtLeast(token.consecutiveFailures, 1)
        assert.deepInclude(notReady.resolved, { held: 3, ready: 0, usable: 0, failing: 3 })
        assert.deepStrictEqual(notReady.resolved!.recentFailures.map((failure) => failure.client).sort(), tenants)

        // Ready once the worker's token and at least one tenant's flow; the refused tenant shows.
        open()
        const ready = yield* probe(url).pipe(
          Effect.filterOrFail(({ status, text }) => {
            const view = JSON.parse(text) as View
            return status === 200 && view.resolved?.ready === 2 && view.resolved.failing === 1
          }),
          Effect.retry(Schedule.spaced("200 millis")),
          Effect.timeout("30 seconds")
        )
        const view = JSON.parse(ready.text) as View
        assert.isTrue(view.ready)
        const [own] = view.clients![0].tokens
        assert.isTrue(own.usable)
        assert.isUndefined(own.reason)
        assert.isAbove(Date.parse(own.refreshFrom!), Date.now())
        const [refused] = view.resolved!.recentFailures
        assert.deepInclude(refused, { client: "initech", tag: "TokenRefusedError", code: "invalid_client" })
        yield* Effect.promise(() => worker.waitFor("API response:", 1))
        yield* Effect.promise(() => worker.waitFor("Tenant acme: token in hand", 1))
        const exit = yield* Effect.promise(() => interrupt(worker))
        for (const secret of ["ready-secret", wrongSecret, ...tenants.map(tenantSecret)]) {
          assert.notInclude(failing.text + ready.text, secret)
          assert.notInclude(worker.output(), secret)
        }
        assert.strictEqual(exit.code, 0)
      }),
    60_000
  )

  it.scopedLive(
    "stops at start, with the refusal in the log, when the token endpoint refuses the client",
    () =>
      Effect.gen(function*() {
        const { api, gate, open } = yield* gatedTokenServer
        open()
        const worker = run("readiness.ts", {
          READY_PORT: "0",
          IDENTITYSERVER_TOKEN_ENDPOINT: `${gate.origin}/token`,
          IDENTITYSERVER_CLIENT_ID: "ready-worker",
          IDENTITYSERVER_CLIENT_SECRET: "a-wrong-secret-value",
          API_BASE_URL: api.baseUrl
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => worker.child.kill("SIGKILL")))
        const exit = yield* Effect.promise(() => worker.exited)
        assert.notStrictEqual(exit.code, 0)
        const output = `${worker.output()}${worker.errors()}`
        assert.include(output, "invalid_client")
        assert.notInclude(output, "a-wrong-secret-value")
        assert.notInclude(output, "API response:")
      }),
    60_000
  )
})
