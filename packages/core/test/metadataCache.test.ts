import { AuthorizationServerMetadata, ClientCredentialsClient } from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Exit, Fiber, HashMap, Logger, Redacted, Scope, TestClock } from "effect"
import { lifetimesOf, make, refreshPoint, targets } from "../src/internal/metadataCache.js"

const ISSUER = "https://as.example.com"

const lifetimes = lifetimesOf({ default: "1 hour", minimum: "1 minute", maximum: "1 day" })

const document = (version: number, maxAge?: Duration.Duration): AuthorizationServerMetadata.Discovered => ({
  metadata: { issuer: ISSUER, token_endpoint: `${ISSUER}/token/v${version}` },
  location: `${ISSUER}/.well-known/oauth-authorization-server`,
  maxAge
})

const unavailable = new AuthorizationServerMetadata.MetadataUnavailableError({
  issuer: ISSUER,
  reason: "Status",
  locations: [`${ISSUER}/.well-known/oauth-authorization-server`],
  status: 503,
  description: "HTTP 503"
})

/**
 * A scripted retrieval: each call takes the next outcome (the last repeats); a call can be held
 * until the test releases it.
 */
const scripted = (outcomes: ReadonlyArray<"fail" | number>, gate?: Deferred.Deferred<void>) => {
  let calls = 0
  const discover: AuthorizationServerMetadata.Discover = (issuer) =>
    Effect.suspend(() => {
      calls++
      const outcome = outcomes[Math.min(calls, outcomes.length) - 1]
      const result = outcome === "fail" ? Effect.fail(unavailable) : Effect.succeed(document(outcome))
      assert.strictEqual(issuer, ISSUER)
      return gate === undefined ? result : Effect.zipRight(Deferred.await(gate), result)
    })
  return { discover, calls: () => calls }
}

const endpointOf = (discovered: AuthorizationServerMetadata.Discovered) => discovered.metadata.token_endpoint

describe("metadataCache", () => {
  it("max-age is held within the bounds; without one the default applies", () => {
    assert.strictEqual(refreshPoint(document(1), lifetimes, 0), Duration.toMillis("1 hour"))
    assert.strictEqual(refreshPoint(document(1, Duration.seconds(5)), lifetimes, 0), Duration.toMillis("1 minute"))
    assert.strictEqual(refreshPoint(document(1, Duration.zero), lifetimes, 0), Duration.toMillis("1 minute"))
    assert.strictEqual(refreshPoint(document(1, Duration.days(30)), lifetimes, 0), Duration.toMillis("1 day"))
    assert.strictEqual(refreshPoint(document(1, Duration.minutes(10)), lifetimes, 0), Duration.toMillis("10 minutes"))
  })

  it("the bounds hold whatever the interval says: a maximum below the minimum is the minimum, the default within them", () => {
    assert.deepStrictEqual(lifetimesOf({ default: "1 hour", minimum: "10 minutes", maximum: "1 minute" }), {
      default: Duration.minutes(10),
      min: Duration.minutes(10),
      max: Duration.minutes(10)
    })
    assert.deepStrictEqual(
      lifetimesOf({ default: "1 second", minimum: "1 minute", maximum: "1 day" }).default,
      Duration.minutes(1)
    )
    assert.deepStrictEqual(
      lifetimesOf({ default: "1 week", minimum: "1 minute", maximum: "1 day" }).default,
      Duration.days(1)
    )
    assert.deepStrictEqual(lifetimesOf({ default: "2 hours", minimum: "1 minute", maximum: "1 day" }), {
      default: Duration.hours(2),
      min: Duration.minutes(1),
      max: Duration.days(1)
    })
  })

  it.scoped("a thousand concurrent callers share one retrieval", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = scripted([1], gate)
      const cache = make(server.discover, lifetimes, yield* Effect.scope)
      const fibers = yield* Effect.forEach(Array.from({ length: 1000 }), () => Effect.fork(cache.get(ISSUER)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(server.calls(), 1)
      assert.isTrue(results.every((result) => endpointOf(result) === `${ISSUER}/token/v1`))
    }))

  it.scoped("a failed first retrieval is a typed error and is not remembered", () =>
    Effect.gen(function*() {
      const server = scripted(["fail", 1])
      const cache = make(server.discover, lifetimes, yield* Effect.scope)
      const first = yield* Effect.exit(cache.get(ISSUER))
      assert.deepStrictEqual(first, Exit.fail(unavailable))
      assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v1`)
      assert.strictEqual(server.calls(), 2)
    }))

  it.scoped("a caller interrupted while waiting does not cancel the retrieval for the others", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = scripted([1], gate)
      const cache = make(server.discover, lifetimes, yield* Effect.scope)
      const impatient = yield* Effect.fork(cache.get(ISSUER))
      const patient = yield* Effect.fork(cache.get(ISSUER))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(impatient)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(endpointOf(yield* Fiber.join(patient)), `${ISSUER}/token/v1`)
      assert.strictEqual(server.calls(), 1)
    }))

  it.scoped("a document due for a refresh is still served at once while the refresh runs", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      let held = false
      let started = 0
      const server = scripted([1, 2])
      const slowSecond: AuthorizationServerMetadata.Discover = (issuer) =>
        Effect.suspend(() => {
          started++
          return held ? Effect.zipRight(Deferred.await(gate), server.discover(issuer)) : server.discover(issuer)
        })
      const cache = make(slowSecond, lifetimes, yield* Effect.scope)
      assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v1`)
      held = true
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v1`)
      assert.strictEqual(started, 1, "not due yet")
      yield* TestClock.adjust("1 minute")
      // Due: every caller gets the held document while one refresh waits on the server.
      for (let i = 0; i < 10; i++) {
        assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v1`)
      }
      yield* Effect.yieldNow()
      assert.strictEqual(started, 2, "one refresh for all callers")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.yieldNow()
      assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v2`)
    }))

  it.scoped("a failed refresh keeps the last good document, warns, and tries again after the minimum", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const issuers: Array<unknown> = []
      const logger = Logger.make(({ annotations, message }) => {
        warnings.push(String(message))
        issuers.push(HashMap.unsafeGet(annotations, "issuer"))
      })
      const server = scripted([1, "fail", 2])
      const scope = yield* Effect.scope
      const cache = make(server.discover, lifetimes, scope)
      const get = cache.get(ISSUER).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* get
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(endpointOf(yield* get), `${ISSUER}/token/v1`)
      yield* Effect.yieldNow()
      assert.strictEqual(server.calls(), 2)
      assert.strictEqual(endpointOf(yield* get), `${ISSUER}/token/v1`, "the last good document")
      assert.strictEqual(server.calls(), 2, "no new attempt before the minimum")
      assert.strictEqual(warnings.length, 1)
      assert.strictEqual(
        warnings[0],
        `Refreshing the authorization server metadata failed: ${unavailable.message}; the last good document is kept`
      )
      assert.deepStrictEqual(issuers, [ISSUER], "the warning names the issuer")
      yield* TestClock.adjust("1 minute")
      yield* get
      yield* Effect.yieldNow()
      assert.strictEqual(server.calls(), 3)
      assert.strictEqual(endpointOf(yield* get), `${ISSUER}/token/v2`)
    }))

  it.scoped("a refresh answering a document the caller cannot use is a failed refresh: the last good one is kept", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ message }) => {
        warnings.push(String(message))
      })
      const unusable = new AuthorizationServerMetadata.InvalidMetadataError({
        issuer: ISSUER,
        reason: "Malformed",
        description: "token_endpoint is missing"
      })
      let calls = 0
      // The first document, then one without a token endpoint, then a fixed one.
      const discover: AuthorizationServerMetadata.Discover = () =>
        Effect.sync(() => {
          calls++
          return calls === 2 ? { ...document(2), metadata: { issuer: ISSUER } } : document(calls)
        })
      const use = (discovered: AuthorizationServerMetadata.Discovered) =>
        discovered.metadata.token_endpoint === undefined ? Either.left(unusable) : Either.right(endpointOf(discovered))
      const cache = make(discover, lifetimes, yield* Effect.scope)
      const get = cache.get(ISSUER, use).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.strictEqual(yield* get, `${ISSUER}/token/v1`)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* get, `${ISSUER}/token/v1`)
      yield* Effect.yieldNow()
      assert.strictEqual(calls, 2)
      assert.strictEqual(yield* get, `${ISSUER}/token/v1`, "the last good document, not the unusable one")
      assert.deepStrictEqual(warnings, [
        `Refreshing the authorization server metadata failed: ${unusable.message}; the last good document is kept`
      ])
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* get, `${ISSUER}/token/v1`)
      assert.strictEqual(calls, 2, "tried again after the minimum, not before")
      yield* TestClock.adjust("1 second")
      yield* get
      yield* Effect.yieldNow()
      assert.strictEqual(calls, 3, "tried again after the minimum, not at the next scheduled refresh")
      assert.strictEqual(yield* get, `${ISSUER}/token/v3`)
    }))

  it.scoped("a refresh one kind of client can use keeps, for another kind of the same issuer, its last good document", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const withSecret = yield* ClientCredentialsClient.make(
        { issuer: ISSUER, clientId: "billing", clientSecret: Redacted.make("secret") },
        "billing"
      )
      const withCertificate = yield* ClientCredentialsClient.make({
        issuer: ISSUER,
        clientId: "bank",
        authentication: {
          method: "tls_client_auth",
          certificate: Redacted.make(worker.certificate),
          privateKey: worker.privateKey
        }
      }, "bank")
      // A good document, then one whose mTLS alias is broken, which only the secret client can use.
      let version = 1
      const discover: AuthorizationServerMetadata.Discover = () =>
        Effect.sync(() => {
          const alias = version === 1 ? "https://mtls.as.example.com/token" : "not a url"
          return {
            ...document(version),
            metadata: { ...document(version).metadata, mtls_endpoint_aliases: { token_endpoint: alias } }
          }
        })
      const targetOf = targets(make(discover, lifetimes, yield* Effect.scope, 2))
      const endpoint = (client: ClientCredentialsClient.ClientCredentialsClient) =>
        Effect.map(targetOf(client), (target) => target?.tokenEndpoint)
      assert.strictEqual(yield* endpoint(withCertificate), `${ISSUER}/token/v1`)
      assert.strictEqual(yield* endpoint(withSecret), `${ISSUER}/token/v1`)
      version = 2
      yield* TestClock.adjust("1 hour")
      // The secret client starts the refresh and takes its document.
      yield* endpoint(withSecret)
      yield* Effect.yieldNow()
      assert.strictEqual(yield* endpoint(withSecret), `${ISSUER}/token/v2`)
      // The certificate client keeps the last document it could use, while its own refresh fails.
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(yield* endpoint(withCertificate), `${ISSUER}/token/v1`)
        yield* Effect.yieldNow()
      }
    }))

  it.scoped("a client that allows plain http keeps, for one that does not, its last good document", () =>
    Effect.gen(function*() {
      const client = (allowInsecureTransport: boolean) =>
        ClientCredentialsClient.make({
          issuer: ISSUER,
          clientId: allowInsecureTransport ? "lab" : "billing",
          clientSecret: Redacted.make("secret"),
          allowInsecureTransport
        }, "billing")
      const strict = yield* client(false)
      const lenient = yield* client(true)
      // A good document, then one whose token endpoint is plain http, which only the lenient client can use.
      let endpoint = `${ISSUER}/token`
      const discover: AuthorizationServerMetadata.Discover = () =>
        Effect.sync(() => ({ ...document(1), metadata: { issuer: ISSUER, token_endpoint: endpoint } }))
      const targetOf = targets(make(discover, lifetimes, yield* Effect.scope))
      const sentTo = (client: ClientCredentialsClient.ClientCredentialsClient) =>
        Effect.map(targetOf(client), (target) => target?.tokenEndpoint)
      assert.strictEqual(yield* sentTo(strict), `${ISSUER}/token`)
      assert.strictEqual(yield* sentTo(lenient), `${ISSUER}/token`)
      endpoint = "http://as.example.com/token"
      yield* TestClock.adjust("1 hour")
      yield* sentTo(lenient)
      yield* Effect.yieldNow()
      assert.strictEqual(yield* sentTo(lenient), "http://as.example.com/token")
      assert.strictEqual(yield* sentTo(strict), `${ISSUER}/token`)
    }))

  it.scoped("a client configured by token endpoint needs no metadata", () =>
    Effect.gen(function*() {
      const server = scripted([1])
      const client = yield* ClientCredentialsClient.make({
        tokenEndpoint: `${ISSUER}/token`,
        clientId: "billing",
        clientSecret: Redacted.make("secret")
      }, "billing")
      assert.strictEqual(yield* targets(make(server.discover, lifetimes, yield* Effect.scope))(client), undefined)
      assert.strictEqual(server.calls(), 0)
    }))

  it.scoped("a first document the caller cannot use is not kept: the next caller retrieves again", () =>
    Effect.gen(function*() {
      const server = scripted([1, 2])
      const cache = make(server.discover, lifetimes, yield* Effect.scope)
      const unusable = new AuthorizationServerMetadata.InvalidMetadataError({
        issuer: ISSUER,
        reason: "InsecureEndpoint",
        description: "plain http"
      })
      const first = yield* Effect.exit(cache.get(ISSUER, () => Either.left(unusable)))
      assert.deepStrictEqual(first, Exit.fail(unusable))
      assert.strictEqual(endpointOf(yield* cache.get(ISSUER)), `${ISSUER}/token/v2`)
      assert.strictEqual(server.calls(), 2)
    }))

  it.effect("retrievals stop with the scope, releasing their callers", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const gate = yield* Deferred.make<void>()
      const server = scripted([1], gate)
      const cache = make(server.discover, lifetimes, scope)
      const waiting = yield* Effect.fork(cache.get(ISSUER))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.isInterrupted(exit), "the waiting caller is released, not left hanging")
    }))
})

describe("metadataCache capacity", () => {
  /** A server with an issuer per tenant, counting its retrievals by issuer; a held issuer waits at `gate`. */
  const perTenant = (held?: { readonly issuer: string; readonly gate: Deferred.Deferred<void> }) => {
    const calls = new Map<string, number>()
    const discover: AuthorizationServerMetadata.Discover = (issuer) =>
      Effect.suspend(() => {
        calls.set(issuer, (calls.get(issuer) ?? 0) + 1)
        const found = Effect.succeed<AuthorizationServerMetadata.Discovered>({
          metadata: { issuer, token_endpoint: `${issuer}/token` },
          location: `${issuer}/.well-known/oauth-authorization-server`,
          maxAge: undefined
        })
        return held?.issuer === issuer ? Effect.zipRight(Deferred.await(held.gate), found) : found
      })
    return { discover, calls }
  }
  const issuer = (i: number) => `https://tenant-${i}.example.com`

  it.scoped("holds at most its capacity of issuers, the least recently used dropped first", () =>
    Effect.gen(function*() {
      const server = perTenant()
      const cache = make(server.discover, lifetimes, yield* Effect.scope, 100)
      // The issuer of a client that keeps requesting tokens, among 1,000 tenants passing through.
      for (let i = 0; i < 1000; i++) {
        yield* cache.get(issuer(i))
        yield* cache.get(issuer(0))
      }
      assert.strictEqual(cache.size(), 100)
      assert.strictEqual(server.calls.get(issuer(0)), 1, "the issuer in use was never dropped")
      // A tenant dropped long ago is retrieved again when it comes back.
      yield* cache.get(issuer(1))
      assert.strictEqual(server.calls.get(issuer(1)), 2)
      assert.strictEqual(cache.size(), 100)
    }))

  it.scoped("never drops an issuer whose retrieval is under way", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = perTenant({ issuer: issuer(0), gate })
      const cache = make(server.discover, lifetimes, yield* Effect.scope, 10)
      const waiting = yield* Effect.fork(cache.get(issuer(0)))
      yield* Effect.yieldNow()
      for (let i = 1; i < 100; i++) yield* cache.get(issuer(i))
      assert.strictEqual(cache.size(), 10)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(waiting)
      yield* cache.get(issuer(0))
      assert.strictEqual(server.calls.get(issuer(0)), 1, "its callers were answered by the one retrieval, then kept")
    }))

  it.scoped("never drops an issuer whose refresh is under way", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      let hold = false
      let refreshes = 0
      const server = perTenant()
      const discover: AuthorizationServerMetadata.Discover = (issuer) =>
        Effect.suspend(() => {
          if (!hold) return server.discover(issuer)
          refreshes++
          return Effect.zipRight(Deferred.await(gate), server.discover(issuer))
        })
      const cache = make(discover, lifetimes, yield* Effect.scope, 2)
      yield* cache.get(issuer(0))
      hold = true
      yield* TestClock.adjust("1 hour")
      // Due: the held document is served while its refresh waits on the server.
      yield* cache.get(issuer(0))
      yield* Effect.yieldNow()
      assert.strictEqual(refreshes, 1)
      hold = false
      for (let i = 1; i < 10; i++) yield* cache.get(issuer(i))
      yield* Deferred.succeed(gate, void 0)
      yield* Effect.yieldNow()
      yield* cache.get(issuer(0))
      assert.strictEqual(server.calls.get(issuer(0)), 2, "the refreshed document was kept, not retrieved again")
    }))
})
