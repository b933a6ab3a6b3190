/**
 * The readiness view of `TokenService`, warm-up and fail-fast: with a scripted endpoint under
 * `TestClock`, then against the embedded oidc-provider and a token endpoint that answers `503`.
 */
// @ts-nocheck

import {
  AccessToken,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenLifetime,
  TokenMetrics,
  TokenReadiness,
  TokenService
} from "@access-token/core"
import { TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Context,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Layer,
  Metric,
  Redacted,
  Schedule,
  TestClock
} from "effect"
import * as FaultServer from "./utils/FaultServer.js"

const SECRET = "s3cr3t-Readiness-Sentinel"

const client = (tokenEndpoint = "https://auth.example.com/connect/token") => ({
  tokenEndpoint,
  clientId: "worker",
  clientSecret: Redacted.make(SECRET),
  scope: "api"
})

/** A token endpoint that counts requests, can hold them at a gate, and answers with `respond`. */
class FakeEndpoint {
  requests = 0
  gate: Deferred.Deferred<void> | undefined = undefined
  respond: (n: number, client: string) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenEndpointError> = (
    n
  ) =>
    Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))

  readonly layer = TokenEndpointClient.layerTest((client) =>
    Effect.suspend(() => {
      const n = ++this.requests
      const gate = this.gate
      const answer = this.respond(n, client.name)
      return gate === undefined ? answer : Effect.zipRight(Deferred.await(gate), answer)
    })
  )

  /** Lets forked fibers run until `count` requests have been made (TestClock never advances by itself). */
  awaitRequests = (count: number) =>
    Effect.gen(this, function*() {
      for (let i = 0; i < 1000 && this.requests < count; i++) yield* Effect.yieldNow()
      assert.strictEqual(this.requests, count)
    })
}

const refused = (error: string) => new TokenError.TokenRefusedError({ client: "api", status: 400, error })

const makeService = (endpoint: FakeEndpoint, options: Partial<TokenService.Options> = {}) =>
  TokenService.make({ clients: { api: client() }, ...options }).pipe(
    Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory()))
  )

const own = (readiness: TokenReadiness.Readiness, name = "api") =>
  readiness.clients.find((entry) => entry.client === name)!.tokens[0]

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2)}`

describe("TokenService.readiness", () => {
  it.scoped("reflects a held token, a renewal in flight, a failure and the recovery", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      // Every acquisition asks the endpoint, refusals included (the backoff: refusals.test.ts).
      const service = yield* makeService(endpoint, { refusalBackoff: Schedule.stop })

      const cold = yield* service.readiness
      assert.isFalse(cold.ready)
      assert.deepStrictEqual(
        { ...own(cold) },
        {
          scope: "api",
          resource: [],
          usable: false,
          usableUntil: undefined,
          refreshFrom: undefined,
          renewing: false,
          lastSuccess: undefined,
          lastFailure: undefined,
          consecutiveFailures: 0,
          ready: false,
          reason: "never-tried"
        }
      )

      const token = yield* service.getToken("api")
      const held = yield* service.readiness
      assert.isTrue(held.ready)
      assert.isTrue(own(held).usable)
      // Handed out until the buffer before its expiry (or sooner: the service's lifetime rules).
      const usableUntil = DateTime.toEpochMillis(own(held).usableUntil!)
      assert.isAbove(usableUntil, DateTime.toEpochMillis(yield* DateTime.now))
      assert.isAtMost(
        usableUntil,
        DateTime.toEpochMillis(token.expiresAt!) - Duration.toMillis(TokenLifetime.defaultExpirationBuffer)
      )
      assert.deepStrictEqual(own(held).lastSuccess, token.receivedAt)

      // Into the refresh window, with the renewal held at the endpoint: callers keep the token.
      const gate = yield* Deferred.make<void>()
      endpoint.gate = gate
      yield* TestClock.adjust("50 minutes")
      yield* service.getToken("api")
      yield* endpoint.awaitRequests(2)
      const renewing = own(yield* service.readiness)
      assert.isTrue(renewing.renewing)
      assert.isTrue(renewing.usable)
      assert.isTrue(renewing.ready)
      endpoint.gate = undefined
      yield* Deferred.succeed(gate, void 0)
      for (let i = 0; i < 100 && own(yield* service.readiness).renewing; i++) yield* Effect.yieldNow()
      assert.isFalse(own(yield* service.readiness).renewing)

      // Two failed acquisitions: the token was dropped for a forced renewal, so nothing is usable.
      endpoint.respond = () => Effect.fail(refused("invalid_client"))
      yield* Effect.flip(service.getToken("api", { forceRenewal: true }))
      yield* TestClock.adjust("1 second")
      yield* Effect.flip(service.getToken("api"))
      const failing = yield* service.readiness
      assert.isFalse(failing.ready)
      assert.isFalse(own(failing).usable)
      assert.strictEqual(own(failing).consecutiveFailures, 2)
      assert.deepStrictEqual(own(failing).lastFailure, {
        tag: "TokenRefusedError",
        at: yield* DateTime.now,
        code: "invalid_client",
        message: refused("invalid_client").message
      })
      assert.notInclude(JSON.stringify(failing), SECRET)

      endpoint.respond = (n) =>
        Effect.map(DateTime.now, (receivedAt) =>
          AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
      yield* service.getToken("api")
      const recovered = yield* service.readiness
      assert.isTrue(recovered.ready)
      assert.strictEqual(own(recovered).consecutiveFailures, 0)
      assert.strictEqual(own(recovered).lastFailure?.code, "invalid_client", "the last failure stays on view")
    }))

  it.scoped("keeps a failed background renewal ready while the token is usable", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { refreshRetrySchedule: Schedule.stop })
      yield* service.getToken("api")
      endpoint.respond = () => Effect.fail(refused("temporarily_unavailable"))
      yield* TestClock.adjust("50 minutes")
      yield* service.getToken("api")
      yield* endpoint.awaitRequests(2)
      for (let i = 0; i < 100 && own(yield* service.readiness).renewing; i++) yield* Effect.yieldNow()
      const state = own(yield* service.readiness)
      assert.strictEqual(state.consecutiveFailures, 1)
      assert.isTrue(state.usable)
      assert.isTrue(state.ready)
      yield* TestClock.adjust("10 minutes")
      assert.isFalse(own(yield* service.readiness).ready, "stale, and the last acquisition failed")
    }))

  it.scoped("lists each distinct token of a client after its own", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      yield* service.getToken("api", { scope: "api.read" })
      const [entry] = (yield* service.readiness).clients
      assert.deepStrictEqual(entry.tokens.map((token) => [token.scope, token.usable]), [["api", false], [
        "api.read",
        true
      ]])
      assert.isFalse(entry.ready, "the client's own token was never acquired")
    }))
})

describe("TokenService.readiness: renewal and reasons", () => {
  it.scoped("tells when background renewal starts: the first call from refreshFrom renews the token", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      assert.isUndefined(own(yield* service.readiness).refreshFrom)
      yield* service.getToken("api")
      const held = own(yield* service.readiness)
      const refreshFrom = DateTime.toEpochMillis(held.refreshFrom!)
      const now = DateTime.toEpochMillis(yield* DateTime.now)
      assert.isAbove(refreshFrom, now)
      assert.isBelow(refreshFrom, DateTime.toEpochMillis(held.usableUntil!))
      // A call just before it is a plain hit; the first call from it renews in the background.
      yield* TestClock.adjust(Duration.millis(refreshFrom - now - 1))
      yield* service.getToken("api")
      yield* endpoint.awaitRequests(1)
      yield* TestClock.adjust("1 millis")
      yield* service.getToken("api")
      yield* endpoint.awaitRequests(2)
      for (let i = 0; i < 100 && own(yield* service.readiness).renewing; i++) yield* Effect.yieldNow()
      assert.isAbove(DateTime.toEpochMillis(own(yield* service.readiness).refreshFrom!), refreshFrom)
    }))

  it.scoped("says why a token is not ready: never tried, its first request under way, or failing, with the message", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      // Every acquisition asks the endpoint, refusals included (the backoff: refusals.test.ts).
      const service = yield* makeService(endpoint, { refusalBackoff: Schedule.stop })
      const cold = yield* service.readiness
      assert.strictEqual(own(cold).reason, "never-tried")
      assert.strictEqual(cold.clients[0].reason, "never-tried")

      const gate = yield* Deferred.make<void>()
      endpoint.gate = gate
      endpoint.respond = () =>
        Effect.fail(
          new TokenError.TokenRefusedError({
            client: "api",
            status: 401,
            error: "invalid_client",
            errorDescription: "client authentication failed"
          })
        )
      const first = yield* Effect.fork(service.getToken("api"))
      yield* endpoint.awaitRequests(1)
      const requesting = yield* service.readiness
      assert.strictEqual(own(requesting).reason, "requesting")
      assert.strictEqual(requesting.clients[0].reason, "requesting")
      endpoint.gate = undefined
      yield* Deferred.succeed(gate, void 0)
      const error = yield* Effect.flip(Fiber.join(first))

      const failing = yield* service.readiness
      assert.strictEqual(own(failing).reason, "failing")
      assert.strictEqual(failing.clients[0].reason, "failing")
      assert.strictEqual(own(failing).lastFailure?.message, error.message)
      assert.include(own(failing).lastFailure?.message, "invalid_client")
      assert.notInclude(JSON.stringify(failing), SECRET)

      endpoint.respond = (n) =>
        Effect.map(
          DateTime.now,
          (receivedAt) => AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" })
        )
      yield* service.getToken("api")
      const ready = yield* service.readiness
      assert.isUndefined(own(ready).reason)
      assert.isUndefined(ready.clients[0].reason)
    }))
})

/** Resolved tenants: `good-*` get tokens, `bad-*` are refused with `invalid_client`. */
const tenants = (endpoint: FakeEndpoint, options: Partial<TokenService.Options> = {}) => {
  endpoint.respond = (n, name) =>
    name.startsWith("bad")
      ? Effect.fail(new TokenError.TokenRefusedError({ client: name, status: 401, error: "invalid_client" }))
      : Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
  return makeService(endpoint, {
    clients: {},
    resolveClient: (name) => Effect.succeed({ ...client(), clientId: `client-${name}` }),
    ...options
  })
}

describe("TokenService.readiness of resolved clients", () => {
  it.scoped("summarises them: held, ready, usable, failing, and the most recent failures by name", () =>
    Effect.gen(function*() {
      const service = yield* tenants(new FakeEndpoint())
      const none = yield* service.readiness
      assert.deepStrictEqual(none.resolved, { held: 0, ready: 0, usable: 0, failing: 0, recentFailures: [] })

      yield* service.getToken("good-1")
      yield* service.getToken("good-2")
      for (let i = 1; i <= 7; i++) {
        yield* Effect.flip(service.getToken(`bad-${i}`))
        yield* TestClock.adjust("1 second")
      }
      const view = yield* service.readiness
      assert.deepStrictEqual(view.clients, [])
      assert.isTrue(view.ready, "by default, resolved clients are shown but not counted")
      const { recentFailures, ...counts } = view.resolved!
      assert.deepStrictEqual(counts, { held: 9, ready: 2, usable: 2, failing: 7 })
      assert.deepStrictEqual(recentFailures.map((failure) => failure.client), [
        "bad-7",
        "bad-6",
        "bad-5",
        "bad-4",
        "bad-3"
      ])
      assert.strictEqual(recentFailures.length, TokenReadiness.recentFailureLimit)
      assert.deepInclude(recentFailures[0], { tag: "TokenRefusedError", code: "invalid_client" })
      assert.include(recentFailures[0].message, "invalid_client")
      assert.notInclude(JSON.stringify(view), SECRET)

      // A tenant that recovers leaves the failures; one dropped is no longer held.
      yield* service.drop("bad-7")
      const after = (yield* service.readiness).resolved!
      assert.strictEqual(after.held, 8)
      assert.strictEqual(after.failing, 6)
      assert.strictEqual(after.recentFailures[0].client, "bad-6")
    }))

  it.scoped("anyReady: ready once one resolved client's tokens flow, never with none held", () =>
    Effect.gen(function*() {
      const service = yield* tenants(new FakeEndpoint(), { resolvedClientReadiness: "anyReady" })
      assert.isFalse((yield* service.readiness).ready, "no resolved client held: nothing shows tokens flow")
      yield* Effect.flip(service.getToken("bad-1"))
      assert.isFalse((yield* service.readiness).ready)
      yield* service.getToken("good-1")
      assert.isTrue((yield* service.readiness).ready, "a refused tenant does not take the worker out")
    }))

  it.scoped("noneFailing: ready while one resolved client's tokens flow and none fails", () =>
    Effect.gen(function*() {
      const service = yield* tenants(new FakeEndpoint(), { resolvedClientReadiness: "noneFailing" })
      assert.isFalse((yield* service.readiness).ready, "no resolved client held: not ready by vacuous truth")
      yield* service.getToken("good-1")
      assert.isTrue((yield* service.readiness).ready)
      yield* Effect.flip(service.getToken("bad-1"))
      assert.isFalse((yield* service.readiness).ready)
      yield* service.drop("bad-1")
      assert.isTrue((yield* service.readiness).ready)
    }))

  it.scoped("counts them beside the registered clients, which count as before", () =>
    Effect.gen(function*() {
      const service = yield* tenants(new FakeEndpoint(), {
        clients: { api: client(), "bad-registered": client() },
        resolvedClientReadiness: "anyReady"
      })
      yield* service.getToken("api")
      yield* Effect.flip(service.getToken("bad-registered"))
      yield* service.getToken("good-1")
      assert.isFalse((yield* service.readiness).ready, "a registered client is refused")
      const registeredOnly = yield* tenants(new FakeEndpoint(), {
        clients: { api: client() },
        resolvedClientReadiness: "anyReady"
      })
      yield* registeredOnly.getToken("api")
      assert.isFalse((yield* registeredOnly.readiness).ready, "the registered client's tokens flow, no tenant's")
      yield* registeredOnly.getToken("good-1")
      assert.isTrue((yield* registeredOnly.readiness).ready)
    }))
})

describe("TokenService warm-up", () => {
  const count = (counter: Metric.Metric.Counter<number>, name: string) =>
    Effect.map(Metric.value(Metric.tagged(counter, "client", name)), (state) => state.count)

  it.scoped("acquires the tokens while the service is built, so that the first call is a cache hit", () =>
    Effect.gen(function*() {
      const [first, second, cold] = [unique("warm"), unique("warm"), unique("cold")]
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, {
        clients: { [first]: client(), [second]: client(), [cold]: client() },
        warmUp: [first, second]
      })
      assert.strictEqual(endpoint.requests, 2)
      assert.isTrue(own(yield* service.readiness, first).ready)
      assert.isFalse(own(yield* service.readiness, cold).ready)
      yield* service.getToken(first)
      assert.strictEqual(yield* count(TokenMetrics.cacheHits, first), 1)
      assert.strictEqual(endpoint.requests, 2)
    }))

  it.scoped("warmUp: true warms every client", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, {
        clients: { a: client(), b: client(), c: client() },
        warmUp: true
      })
      assert.strictEqual(endpoint.requests, 3)
      assert.isTrue((yield* service.readiness).ready)
    }))

  it.scoped("refuses a warm-up list that names no registered client", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makeService(new FakeEndpoint(), { warmUp: ["api", "nope"] }))
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.include(error.message, "nope")
    }))

  it.scoped("without failFast, a refused warm-up is logged and retried in the background until it succeeds", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      endpoint.respond = (n) =>
        n === 1
          ? Effect.fail(refused("invalid_client"))
          : Effect.map(DateTime.now, (receivedAt) =>
            AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
      const service = yield* makeService(endpoint, {
        warmUp: true,
        refreshRetrySchedule: Schedule.spaced("1 second")
      })
      assert.isFalse((yield* service.readiness).ready)
      // Retried every second, the refused client is held back until refusalBackoff's first wait (4 to 6 s) is over.
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(endpoint.requests, 1)
      yield* TestClock.adjust("3 seconds")
      yield* endpoint.awaitRequests(2)
      for (let i = 0; i < 100 && !(yield* service.readiness).ready; i++) yield* Effect.yieldNow()
      assert.isTrue((yield* service.readiness).ready)
    }))

  it.scoped("with failFast, a definite failure fails the build and a transient one does not", () =>
    Effect.gen(function*() {
      const definite = new FakeEndpoint()
      definite.respond = () => Effect.fail(refused("unauthorized_client"))
      const error = yield* Effect.flip(makeService(definite, { warmUp: true, failFast: true }))
      assert.strictEqual(error._tag, "TokenRefusedError")

      const transient = new FakeEndpoint()
      transient.respond = () => Effect.fail(refused("temporarily_unavailable"))
      const service = yield* makeService(transient, { warmUp: true, failFast: true })
      assert.isFalse((yield* service.readiness).ready)
    }))
})

describe("TokenService fail-fast against real servers", () => {
  const build = (options: TokenService.Options) =>
    Layer.build(
      TokenService.layer({ refreshRetrySchedule: Schedule.spaced("50 millis"), ...options }).pipe(
        Layer.provide([TokenEndpointClient.layer({ retrySchedule: Schedule.stop }), TokenCache.layerMemory()]),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    ).pipe(Effect.map(Context.get(TokenService.TokenService)))

  it.scopedLive("stops the layer on invalid_client from the embedded server, with a message for the log", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      const [registered] = server.clients
      const error = yield* Effect.flip(build({
        clients: {
          api: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: registered.clientId,
            clientSecret: Redacted.make(SECRET)
          }
        },
        warmUp: true,
        failFast: true
      }))
      assert.strictEqual(error._tag, "TokenRefusedError")
      if (error._tag !== "TokenRefusedError") return
      assert.strictEqual(error.error, "invalid_client")
      assert.notInclude(error.message, SECRET)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }))

  it.scopedLive("builds on a 503, retries in the background and becomes ready once the endpoint answers", () =>
    Effect.gen(function*() {
      const fault = yield* FaultServer.make()
      fault.fail(FaultServer.Reply.status(503))
      const service = yield* build({ clients: { api: client(fault.url) }, warmUp: true, failFast: true })
      const failing = own(yield* service.readiness)
      assert.isFalse(failing.ready)
      assert.strictEqual(failing.lastFailure?.tag, "InvalidTokenResponseError")
      assert.strictEqual(failing.lastFailure?.code, "503")
      fault.clear()
      const ready = yield* service.readiness.pipe(
        Effect.filterOrFail((readiness) => readiness.ready),
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeout("10 seconds")
      )
      assert.isTrue(ready.ready)
      assert.strictEqual(Redacted.value((yield* service.getToken("api")).value).startsWith("token-"), true)
    }))
})
