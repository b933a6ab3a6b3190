/**
 * The refusal backoff (`refusalBackoff`): a client whose credentials were refused fails at once
 * with the refusal, without a token request, until its schedule's wait is over; one warning per
 * episode; a token, `drop` or a new definition of a resolved client ends it.
 */
// @ts-nocheck

import {
  AccessToken,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenLifetime,
  TokenService
} from "@access-token/core"
import { TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Logger, Redacted, Schedule, TestClock } from "effect"
import * as Crypto from "node:crypto"

const endpointUrl = "https://auth.example.com/connect/token"

const definition = (secret = "right", overrides: Partial<TokenService.ClientInput> = {}): TokenService.ClientInput => ({
  tokenEndpoint: endpointUrl,
  clientId: "worker",
  clientSecret: Redacted.make(secret),
  scope: "api",
  ...overrides
})

/**
 * A token endpoint that refuses with `refusal` while it is set, and otherwise answers with a token
 * valid for an hour; it counts its requests.
 */
const scriptedEndpoint = () => {
  const state: { requests: number; refusal: string | undefined } = { requests: 0, refusal: "invalid_client" }
  const layer = TokenEndpointClient.layerTest((client) =>
    Effect.suspend(() => {
      const n = ++state.requests
      if (state.refusal !== undefined) {
        return Effect.fail(new TokenError.TokenRefusedError({ client: client.name, status: 401, error: state.refusal }))
      }
      return Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
    })
  )
  return { state, layer: Layer.merge(layer, TokenCache.layerMemory()) }
}

/** Log lines at warning level and above, and at info, as `level message`. */
const capture = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) =>
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  )
  return {
    lines,
    warnings: () => lines.filter((line) => line.startsWith("WARN")),
    layer: Logger.replace(Logger.defaultLogger, logger)
  }
}

/** Fails `times` calls in a row and returns their errors, which must all be refusals. */
const refusals = (service: TokenService.TokenService.Service, client: string, times: number) =>
  Effect.forEach(Array.from({ length: times }), () =>
    Effect.map(Effect.flip(service.getToken(client)), (error) => {
      assert.strictEqual(error._tag, "TokenRefusedError")
      return error as TokenError.TokenRefusedError
    }))

/** A P-256 private key in PKCS#8 PEM, for a JWT bearer grant. */
const ecPem = () =>
  Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" })
    .toString()

/** Exactly 5 s, 10 s, 20 s, ...: the default's shape without its jitter, for exact times. */
const exponential = Schedule.exponential("5 seconds")

describe("refusal backoff", () => {
  it.scoped("a refused client fails at once with the refusal, without a request, until the wait is over", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({ clients: { api: definition() }, refusalBackoff: exponential })
      const [first, ...held] = yield* refusals(service, "api", 10)
      assert.strictEqual(first.error, "invalid_client")
      assert.strictEqual(endpoint.state.requests, 1)
      for (const error of held) assert.strictEqual(error, first, "the same refusal, at once")

      yield* TestClock.adjust("4999 millis")
      yield* refusals(service, "api", 3)
      assert.strictEqual(endpoint.state.requests, 1)
      // The wait is over: one request, refused again, and the next wait is longer.
      yield* TestClock.adjust("1 millis")
      yield* refusals(service, "api", 3)
      assert.strictEqual(endpoint.state.requests, 2)
      yield* TestClock.adjust("9 seconds")
      yield* refusals(service, "api", 3)
      assert.strictEqual(endpoint.state.requests, 2)
      yield* TestClock.adjust("1 second")
      yield* refusals(service, "api", 1)
      assert.strictEqual(endpoint.state.requests, 3)

      // Fixed at the server: the next request after the wait gets a token, and the episode is over.
      endpoint.state.refusal = undefined
      yield* TestClock.adjust("20 seconds")
      const token = yield* service.getToken("api")
      assert.strictEqual(Redacted.value(token.value), "token-4")
      assert.strictEqual(logs.warnings().length, 1, "one warning for the whole episode")
      assert.include(logs.warnings()[0], `client "api"`)
      assert.include(logs.warnings()[0], "invalid_client")
      assert.include(logs.warnings()[0], "check the client's credentials")
      assert.isTrue(logs.lines.some((line) => line.startsWith("INFO") && line.includes("no longer held back")))

      // A new episode starts from the first wait again, with a warning of its own.
      endpoint.state.refusal = "invalid_client"
      yield* Effect.flip(service.getToken("api", { forceRenewal: true }))
      yield* refusals(service, "api", 2)
      assert.strictEqual(endpoint.state.requests, 5)
      yield* TestClock.adjust("5 seconds")
      yield* Effect.flip(service.getToken("api", { forceRenewal: true }))
      assert.strictEqual(endpoint.state.requests, 6)
      assert.strictEqual(logs.warnings().length, 2)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.scoped("unauthorized_client and a JWT bearer grant's invalid_grant hold back; other refusals do not", () => {
    const endpoint = scriptedEndpoint()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({ clients: { api: definition() }, refusalBackoff: exponential })
      endpoint.state.refusal = "unauthorized_client"
      yield* refusals(service, "api", 5)
      assert.strictEqual(endpoint.state.requests, 1)
      yield* service.drop("api")

      // The JWT bearer grant's invalid_grant refuses the client's key.
      const bearer = yield* TokenService.make({
        clients: {
          sa: {
            tokenEndpoint: endpointUrl,
            clientId: "service-account",
            grant: { privateKey: Redacted.make(ecPem()), audience: "tokenEndpoint" }
          }
        },
        refusalBackoff: exponential
      })
      endpoint.state.requests = 0
      endpoint.state.refusal = "invalid_grant"
      yield* refusals(bearer, "sa", 5)
      assert.strictEqual(endpoint.state.requests, 1)

      // The client credentials grant's invalid_grant, or invalid_scope: not the client's credentials.
      for (const refusal of ["invalid_grant", "invalid_scope"]) {
        endpoint.state.requests = 0
        endpoint.state.refusal = refusal
        yield* refusals(service, "api", 3)
        assert.strictEqual(endpoint.state.requests, 3, refusal)
      }
    }).pipe(Effect.provide(endpoint.layer))
  })

  it.scoped("drop ends the wait of a registered client at once", () => {
    const endpoint = scriptedEndpoint()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({ clients: { api: definition() } })
      yield* refusals(service, "api", 3)
      assert.strictEqual(endpoint.state.requests, 1)
      endpoint.state.refusal = undefined
      yield* service.drop("api")
      const token = yield* service.getToken("api")
      assert.strictEqual(Redacted.value(token.value), "token-2")
    }).pipe(Effect.provide(endpoint.layer))
  })

  it.scoped("a schedule that is done holds nothing back: Schedule.stop turns the backoff off", () => {
    const endpoint = scriptedEndpoint()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({ clients: { api: definition() }, refusalBackoff: Schedule.stop })
      yield* refusals(service, "api", 4)
      assert.strictEqual(endpoint.state.requests, 4)
    }).pipe(Effect.provide(endpoint.layer))
  })

  it.scoped("a token another replica stored in the shared TokenCache ends the episode", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    return Effect.gen(function*() {
      const options = { clients: { api: definition() }, refusalBackoff: Schedule.spaced("1 minute") }
      const replica = yield* TokenService.make(options)
      yield* refusals(replica, "api", 2)
      // Fixed at the server; another replica, sharing the cache, gets a token and stores it.
      endpoint.state.refusal = undefined
      const other = yield* TokenService.make(options)
      yield* other.getToken("api")
      assert.strictEqual(endpoint.state.requests, 2)
      yield* TestClock.adjust("1 minute")
      const token = yield* replica.getToken("api")
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.strictEqual(endpoint.state.requests, 2)
      assert.isTrue(logs.lines.some((line) => line.startsWith("INFO") && line.includes("no longer held back")))
      // The episode is over: a refusal now starts a new one, with its own warning.
      endpoint.state.refusal = "invalid_client"
      yield* Effect.flip(replica.getToken("api", { forceRenewal: true }))
      assert.strictEqual(logs.warnings().length, 2)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.scoped("warm-up waits out the backoff: no retry, and no warning, for a refusal it holds back", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    return Effect.gen(function*() {
      let retries = 0
      yield* TokenService.make({
        clients: { api: definition() },
        warmUp: true,
        refreshRetrySchedule: Schedule.spaced("1 second").pipe(Schedule.tapInput(() => Effect.sync(() => retries++))),
        refusalBackoff: Schedule.spaced("1 minute")
      })
      for (let second = 0; second < 300; second++) yield* TestClock.adjust("1 second")
      // One request a minute, each the retry after the wait: none spent on a refusal held back.
      assert.deepStrictEqual([endpoint.state.requests, retries], [6, 6])
      assert.strictEqual(logs.warnings().length, 1, logs.warnings().join("\n"))
      assert.include(logs.warnings()[0], "check the client's credentials")
      // Once the server takes the credentials, the retry after the wait gets the token.
      endpoint.state.refusal = undefined
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual([endpoint.state.requests, retries], [7, 6])
      assert.strictEqual(logs.warnings().length, 1)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.effect("the default waits 5 s (with jitter), then longer, and at most 5 minutes", () =>
    Effect.gen(function*() {
      const delays = yield* Schedule.run(
        Schedule.delays(TokenLifetime.defaultRefusalBackoff),
        0,
        Array.from({ length: 12 }, () => new TokenError.TokenRefusedError({ client: "api", status: 401, error: "x" }))
      )
      const millis = Array.from(delays, Duration.toMillis)
      assert.strictEqual(millis.length, 12)
      assert.isTrue(millis[0] >= 4_000 && millis[0] <= 6_000, `first wait ${millis[0]} ms`)
      assert.isAbove(millis[3], millis[0])
      assert.isTrue(millis.every((delay) => delay <= 300_000))
      assert.strictEqual(millis[11], 300_000)
    }))
})

describe("refusal backoff of resolved clients", () => {
  it.scoped("the one re-resolution comes first; then calls fail at once, with no resolution and no request", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () => Effect.sync(() => (resolutions++, definition("wrong"))),
        refusalBackoff: exponential
      })
      yield* refusals(service, "acme", 10)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [2, 1])
      assert.strictEqual(logs.warnings().length, 1)
      // After the wait: one request, one re-resolution (the definition may have changed), still refused.
      yield* TestClock.adjust("5 seconds")
      yield* refusals(service, "acme", 5)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [3, 2])
      yield* TestClock.adjust("9 seconds")
      yield* refusals(service, "acme", 5)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [3, 2])
      assert.strictEqual(logs.warnings().length, 1)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.scoped("a new definition, found when the old one's time to live is over, ends the wait at once", () => {
    const endpoint = scriptedEndpoint()
    return Effect.gen(function*() {
      const secrets = new Map([["acme", "wrong"]])
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) => Effect.sync(() => (resolutions++, definition(secrets.get(name)))),
        resolvedClientTimeToLive: "1 minute",
        refusalBackoff: Schedule.spaced("1 hour")
      })
      yield* refusals(service, "acme", 3)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [2, 1])
      // Resolved again unchanged after its time to live: still held back, without a request.
      yield* TestClock.adjust("61 seconds")
      yield* refusals(service, "acme", 3)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [3, 1])
      // Rotated at its source: the next definition is asked for a token at once.
      secrets.set("acme", "right")
      endpoint.state.refusal = undefined
      yield* TestClock.adjust("61 seconds")
      const token = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.strictEqual(resolutions, 4)
    }).pipe(Effect.provide(endpoint.layer))
  })

  it.scoped("a background renewal refused with invalid_client resolves again once, then is held back", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    endpoint.state.refusal = undefined
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () => Effect.sync(() => (resolutions++, definition())),
        resolvedClientTimeToLive: "2 hours",
        refreshRetrySchedule: Schedule.spaced("10 seconds"),
        refusalBackoff: Schedule.spaced("1 minute")
      })
      yield* service.getToken("acme")
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [1, 1])
      // Refused from now on; a call in the refresh window starts the renewal and keeps the current token.
      endpoint.state.refusal = "invalid_client"
      yield* TestClock.adjust("41 minutes")
      yield* service.getToken("acme")
      for (let second = 0; second < 300; second++) yield* TestClock.adjust("1 second")
      // As a registered client's: one request per minute of backoff, each resolved again once, not one
      // every 10 s of the renewal's retries; one warning for the episode.
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [7, 7])
      assert.strictEqual(logs.warnings().length, 1)
      assert.include(logs.warnings()[0], `client "acme"`)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.scoped("a background renewal refused for a secret rotated at its source moves to the new definition", () => {
    const endpoint = scriptedEndpoint()
    const logs = capture()
    endpoint.state.refusal = undefined
    return Effect.gen(function*() {
      let secret = "old"
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () => Effect.sync(() => (resolutions++, definition(secret))),
        resolvedClientTimeToLive: "2 hours",
        refreshRetrySchedule: Schedule.spaced("10 seconds"),
        refusalBackoff: Schedule.spaced("1 minute")
      })
      yield* service.getToken("acme")
      secret = "new"
      endpoint.state.refusal = "invalid_client"
      yield* TestClock.adjust("41 minutes")
      yield* service.getToken("acme")
      yield* TestClock.adjust("1 second")
      // The old definition went with its token: the next call asks with the new one at once.
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [2, 2])
      endpoint.state.refusal = undefined
      const token = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(token.value), "token-3")
      assert.strictEqual(logs.warnings().length, 0)
    }).pipe(Effect.provide([endpoint.layer, logs.layer]))
  })

  it.scoped("drop ends the wait of a resolved client at once", () => {
    const endpoint = scriptedEndpoint()
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () => Effect.sync(() => (resolutions++, definition("wrong"))),
        refusalBackoff: Schedule.spaced("1 hour")
      })
      yield* refusals(service, "acme", 3)
      assert.deepStrictEqual([resolutions, endpoint.state.requests], [2, 1])
      yield* service.drop("acme")
      endpoint.state.refusal = undefined
      const token = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.strictEqual(resolutions, 3)
    }).pipe(Effect.provide(endpoint.layer))
  })
})

describe("refusal backoff against oidc-provider", () => {
  it.live("a wrong secret costs one token request, however many calls", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "worker", clientSecret: "right-secret", scopes: ["api"] }],
        scopes: ["api"]
      })
      const service = yield* TokenService.make({
        clients: {
          worker: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: "worker",
            clientSecret: Redacted.make("wrong-secret"),
            scope: "api"
          }
        }
      })
      const errors = yield* refusals(service, "worker", 20)
      assert.isTrue(errors.every((error) => error.error === "invalid_client"))
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => [request.outcome, request.error]), [["error", "invalid_client"]])
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        TokenEndpointClient.layer().pipe(Layer.provide(NodeHttpClient.layerUndici)),
        TokenCache.layerMemory()
      ))
    ))
})
