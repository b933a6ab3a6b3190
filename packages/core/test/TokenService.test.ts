import {
  AccessToken,
  ClientCredentialsClient,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenMetrics,
  TokenService
} from "@access-token/core"
import { KeyValueStore } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  ConfigProvider,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Layer,
  Logger,
  Metric,
  Option,
  Redacted,
  Schedule,
  TestClock
} from "effect"
import { resolve } from "../src/internal/tokenRequest.js"

const SECRET = "s3cr3t-Sentinel-Value"

const endpointUrl = "https://auth.example.com/connect/token"

const client = (overrides: Partial<TokenService.ClientInput> = {}): TokenService.ClientInput => ({
  tokenEndpoint: endpointUrl,
  clientId: "worker",
  clientSecret: Redacted.make(SECRET),
  scope: "api",
  ...overrides
})

/**
 * A scripted token endpoint: counts requests, can hold them at a gate, and answers with
 * `respond` (by default a token `token-<n>` valid for `expiresIn` seconds).
 */
class FakeEndpoint {
  requests = 0
  readonly log: Array<{ readonly client: string; readonly scope: string | undefined }> = []
  gate: Deferred.Deferred<void> | undefined = undefined
  expiresIn: number | undefined = 3600
  respond: (n: number) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenEndpointError> = (n) =>
    Effect.map(DateTime.now, (receivedAt) =>
      AccessToken.make({
        value: `token-${n}`,
        receivedAt,
        expiresIn: this.expiresIn === undefined ? undefined : Duration.seconds(this.expiresIn)
      }))

  readonly layer = TokenEndpointClient.layerTest((definition, parameters) =>
    Effect.suspend(() => {
      const n = ++this.requests
      this.log.push({ client: definition.name, scope: parameters?.scope ?? definition.scope })
      const gate = this.gate
      return gate === undefined ? this.respond(n) : Effect.zipRight(Deferred.await(gate), this.respond(n))
    })
  )

  /** Lets forked fibers run until `count` requests have been made (TestClock never advances by itself). */
  awaitRequests = (count: number) =>
    Effect.gen(this, function*() {
      for (let i = 0; i < 1000 && this.requests < count; i++) yield* Effect.yieldNow()
      assert.strictEqual(this.requests, count)
    })

  hold = Effect.map(Deferred.make<void>(), (gate) => {
    this.gate = gate
    return gate
  })
}

const refused = new TokenError.TokenRefusedError({ client: "api", status: 400, error: "invalid_scope" })

const makeService = (
  endpoint: FakeEndpoint,
  options: Partial<TokenService.Options> = {},
  cache: Layer.Layer<TokenCache.TokenCache> = TokenCache.layerMemory()
) =>
  TokenService.make({ clients: { api: client() }, ...options }).pipe(
    Effect.provide(Layer.merge(endpoint.layer, cache))
  )

const valueOf = (token: AccessToken.AccessToken) => Redacted.value(token.value)

describe("TokenService", () => {
  it.scoped("serves the cached token until it expires", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { refreshWindow: { fraction: 0 } })
      const first = yield* service.getToken("api")
      const second = yield* service.getToken("api")
      assert.strictEqual(valueOf(first), "token-1")
      assert.strictEqual(valueOf(second), "token-1")
      assert.strictEqual(endpoint.requests, 1)
      assert.strictEqual(first.authorization, "Bearer token-1")
    }))

  it.scoped("counts a token as expired the buffer before its expiry", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { refreshWindow: { fraction: 0 } })
      yield* service.getToken("api")
      // 3600 s, less the second a whole-second `exp` may take off, less the 60 s buffer
      yield* TestClock.adjust(Duration.millis(3539_000 - 1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
      assert.strictEqual(endpoint.requests, 2)
    }))

  it.scoped("takes the buffer from the client when it sets one", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, {
        refreshWindow: { fraction: 0 },
        clients: { api: client({ expirationBuffer: "10 minutes" }) }
      })
      yield* service.getToken("api")
      yield* TestClock.adjust("50 minutes")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("takes a second off for whole-second expiries, and caps the buffer at a quarter of what is left", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { refreshWindow: { fraction: 0 } })
      const staleAfter = (expiresIn: number, step = 250) =>
        Effect.gen(function*() {
          endpoint.expiresIn = expiresIn
          yield* service.invalidate("api")
          const first = valueOf(yield* service.getToken("api"))
          let elapsed = 0
          while (valueOf(yield* service.getToken("api")) === first) {
            yield* TestClock.adjust(Duration.millis(step))
            elapsed += step
          }
          return elapsed
        })
      assert.strictEqual(yield* staleAfter(1), 0, "a 1 s token may expire at once: never cached")
      assert.strictEqual(yield* staleAfter(2), 750, "three quarters of the one second a 2 s token surely lives")
      assert.strictEqual(yield* staleAfter(5), 3000, "three quarters of 4 s")
      assert.strictEqual(yield* staleAfter(600, 49_000), 539_000, "599 s less the configured 60 s")
    }))

  it.scoped("keeps a token without expires_in for the default lifetime", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      endpoint.expiresIn = undefined
      const service = yield* makeService(endpoint, { refreshWindow: { fraction: 0 }, defaultLifetime: "5 minutes" })
      const token = yield* service.getToken("api")
      assert.isUndefined(token.expiresAt)
      yield* TestClock.adjust(Duration.millis(300_000 - 1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("keeps a token without expires_in for the client's own default lifetime when it sets one", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      endpoint.expiresIn = undefined
      const service = yield* makeService(endpoint, {
        refreshWindow: { fraction: 0 },
        defaultLifetime: "5 minutes",
        clients: { api: client({ defaultLifetime: "20 minutes" }) }
      })
      yield* service.getToken("api")
      yield* TestClock.adjust(Duration.millis(1_200_000 - 1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("does not keep a token that expires at once, but hands it to its callers", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      endpoint.expiresIn = 0
      const service = yield* makeService(endpoint)
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("hands a 1 s token only to the callers waiting for its request, and never caches it", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      endpoint.expiresIn = 1
      const stored: Array<string> = []
      const cache = Layer.succeed(
        TokenCache.TokenCache,
        TokenCache.make({
          get: () => Effect.succeed(Option.none()),
          set: (key) => Effect.sync(() => void stored.push(key)),
          remove: () => Effect.void
        })
      )
      const service = yield* makeService(endpoint, {}, cache)
      const gate = yield* endpoint.hold
      const waiting = yield* Effect.fork(
        Effect.all(Array.from({ length: 50 }, () => service.getToken("api")), { concurrency: "unbounded" })
      )
      yield* endpoint.awaitRequests(1)
      yield* Deferred.succeed(gate, void 0)
      const tokens = yield* Fiber.join(waiting)
      // The server may have computed `exp` as the very second the request arrived in.
      assert.isTrue(tokens.every((token) => valueOf(token) === "token-1"))
      endpoint.gate = undefined
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
      assert.strictEqual(endpoint.requests, 2)
      assert.deepStrictEqual(stored, [])
    }))

  it.scoped("renews in the background inside the refresh window while callers keep the current token", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      yield* service.getToken("api")
      // usable lifetime 3539 s, refresh window its last third: from 2359.3 s
      yield* TestClock.adjust("2359 seconds")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      assert.strictEqual(endpoint.requests, 1)
      const gate = yield* endpoint.hold
      yield* TestClock.adjust("1 second")
      const during = yield* Effect.all(Array.from({ length: 100 }, () => service.getToken("api")), {
        concurrency: "unbounded"
      })
      assert.isTrue(during.every((token) => valueOf(token) === "token-1"))
      yield* endpoint.awaitRequests(2)
      yield* Deferred.succeed(gate, void 0)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
      assert.strictEqual(endpoint.requests, 2)
    }))

  it.scoped("honours a fixed refresh margin", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { refreshWindow: { margin: "5 minutes" } })
      yield* service.getToken("api")
      yield* TestClock.adjust("3238 seconds")
      yield* service.getToken("api")
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      assert.strictEqual(endpoint.requests, 1)
      yield* TestClock.adjust("1 second")
      yield* service.getToken("api")
      yield* endpoint.awaitRequests(2)
    }))

  it.scoped("keeps serving the old token when a background renewal fails, then surfaces the error", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, {
        refreshRetrySchedule: Schedule.spaced("1 minute")
      })
      yield* service.getToken("api")
      endpoint.respond = () => Effect.fail(refused)
      yield* TestClock.adjust("2400 seconds")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      const attempts = endpoint.requests
      assert.isAbove(attempts, 5, "the renewal is retried on its schedule")
      yield* TestClock.adjust("1200 seconds")
      const error = yield* Effect.flip(service.getToken("api"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.strictEqual(error.message, refused.message)
      endpoint.respond = (n) =>
        Effect.map(
          DateTime.now,
          (receivedAt) => AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" })
        )
      assert.strictEqual(valueOf(yield* service.getToken("api")), `token-${endpoint.requests}`)
    }))

  it.scoped("forceRenewal requests a new token, and joins a request already under way", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      yield* service.getToken("api")
      const gate = yield* endpoint.hold
      const first = yield* Effect.fork(service.getToken("api", { forceRenewal: true }))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(service.getToken("api", { forceRenewal: true }))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, void 0)
      assert.strictEqual(valueOf(yield* Fiber.join(first)), "token-2")
      assert.strictEqual(valueOf(yield* Fiber.join(second)), "token-2")
      assert.strictEqual(endpoint.requests, 2)
    }))

  it.scoped("renews a rejected token once, however many callers report it", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      const rejected = yield* service.getToken("api")
      const renewed = yield* service.getToken("api", { rejected })
      for (let i = 0; i < 10; i++) {
        assert.strictEqual(valueOf(yield* service.getToken("api", { rejected })), "token-2")
      }
      assert.strictEqual(valueOf(renewed), "token-2")
      assert.strictEqual(endpoint.requests, 2)
    }))

  it.scoped("invalidate forgets the token", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      yield* service.getToken("api")
      yield* service.invalidate("api")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("keeps one token per scope, resource and extra parameters", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      const [a, b, c, d, e] = yield* Effect.all([
        service.getToken("api", { scope: "read" }),
        service.getToken("api", { scope: "write" }),
        service.getToken("api", { resource: "https://api.example.com" }),
        service.getToken("api", { parameters: { audience: "x" } }),
        service.getToken("api")
      ], { concurrency: "unbounded" })
      const values = new Set([a, b, c, d, e].map(valueOf))
      assert.strictEqual(values.size, 5)
      // Asked for again, each is a hit on the token kept for it.
      const misses = Effect.map(Metric.value(Metric.tagged(TokenMetrics.cacheMisses, "client", "api")), (s) => s.count)
      const missed = yield* misses
      const again = yield* Effect.all([
        service.getToken("api", { scope: "write" }),
        service.getToken("api", { resource: "https://api.example.com" }),
        service.getToken("api", { parameters: { audience: "x" } }),
        service.getToken("api", { scope: "api" })
      ])
      assert.deepStrictEqual(again.map(valueOf), [b, c, d, e].map(valueOf))
      assert.strictEqual(yield* misses, missed)
      assert.strictEqual(endpoint.requests, 5)
      assert.deepStrictEqual(
        endpoint.log.map((entry) => entry.scope).sort(),
        ["api", "api", "api", "read", "write"]
      )
    }))

  it.scoped("names the known clients when asked for an unknown one", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, {
        clients: { api: client(), billing: client({ clientId: "billing" }) }
      })
      const error = yield* Effect.flip(service.getToken("nope"))
      assert.strictEqual(error._tag, "UnknownClientError")
      assert.strictEqual(error.message, `No client named "nope" is registered (known clients: "api", "billing")`)
      const unnamed = yield* Effect.flip(service.getToken())
      assert.strictEqual(unnamed._tag, "UnknownClientError")
      assert.include(unnamed.message, "No client name was given")
      assert.deepStrictEqual(service.clients, ["api", "billing"])
    }))

  it.scoped("lets the name be omitted when exactly one client is registered", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      assert.strictEqual(valueOf(yield* service.getToken()), "token-1")
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-1")
      assert.strictEqual(endpoint.requests, 1)
    }))

  it.scoped("the accessors reach the service of the context", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const layer = TokenService.layer({ clients: { api: client() } }).pipe(
        Layer.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory()))
      )
      const token = yield* TokenService.getToken("api").pipe(Effect.provide(layer))
      assert.strictEqual(valueOf(token), "token-1")
      yield* TokenService.invalidate("api").pipe(Effect.provide(layer))
    }))

  it.scoped("rejects an invalid client definition when the layer is built, naming client and field", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const error = yield* Effect.flip(makeService(endpoint, {
        clients: { api: client({ tokenEndpoint: "http://auth.example.com/token" }) }
      }))
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.strictEqual(error.client, "api")
      assert.strictEqual((error as TokenError.ClientConfigurationError).field, "tokenEndpoint")
      const scopeError = yield* Effect.flip(makeService(endpoint, { clients: { api: client({ scope: "a  b" }) } }))
      assert.strictEqual((scopeError as TokenError.ClientConfigurationError).field, "scope")
    }))

  it.scoped("reads its clients from configuration", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const layer = TokenService.layerConfig({
        clients: { identityserver: ClientCredentialsClient.config("IDENTITYSERVER") }
      })
        .pipe(Layer.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
      const provider = ConfigProvider.fromMap(
        new Map([
          ["IDENTITYSERVER_TOKEN_ENDPOINT", endpointUrl],
          ["IDENTITYSERVER_CLIENT_ID", "m2m"],
          ["IDENTITYSERVER_CLIENT_SECRET", SECRET],
          ["IDENTITYSERVER_SCOPE", "api"]
        ]),
        { pathDelim: "_" }
      )
      const token = yield* TokenService.getToken().pipe(Effect.provide(layer), Effect.withConfigProvider(provider))
      assert.strictEqual(valueOf(token), "token-1")
      assert.deepStrictEqual(endpoint.log, [{ client: "identityserver", scope: "api" }])
    }))
})

describe("TokenService metrics", () => {
  const count = (counter: Metric.Metric.Counter<number>, client: string) =>
    Effect.map(Metric.value(Metric.tagged(counter, "client", client)), (state) => state.count)

  it.scoped("counts hits, misses, token requests, failures and forced renewals by client", () =>
    Effect.gen(function*() {
      const name = `metrics-${Math.random().toString(36).slice(2)}`
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { clients: { [name]: client() } })
      yield* service.getToken(name)
      yield* service.getToken(name)
      yield* service.getToken(name)
      yield* service.getToken(name, { forceRenewal: true })
      endpoint.respond = () => Effect.fail(refused)
      yield* Effect.flip(service.getToken(name, { forceRenewal: true }))
      assert.deepStrictEqual(
        yield* Effect.all([
          count(TokenMetrics.cacheHits, name),
          count(TokenMetrics.cacheMisses, name),
          count(TokenMetrics.tokenRequests, name),
          count(TokenMetrics.tokenRequestFailures, name),
          count(TokenMetrics.forcedRenewals, name)
        ]),
        [2, 3, 3, 1, 2]
      )
    }))

  it.scoped("refuses bad per-request parameters in getToken, before any cache read or token request", () =>
    Effect.gen(function*() {
      const name = `invalid-${Math.random().toString(36).slice(2)}`
      const endpoint = new FakeEndpoint()
      let reads = 0
      const cache = Layer.effect(
        TokenCache.TokenCache,
        Effect.map(TokenCache.makeMemory(), (memory) => ({
          ...memory,
          get: (key: string) => Effect.suspend(() => (reads++, memory.get(key)))
        }))
      )
      const service = yield* makeService(endpoint, { clients: { [name]: client() } }, cache)
      const bad: ReadonlyArray<readonly [TokenService.GetTokenParameters, string]> = [
        [{ scope: "api  read" }, "scope"],
        [{ scope: "api\nread" }, "scope"],
        [{ resource: "https://api.example.com/#fragment" }, "resource"],
        [{ parameters: { client_secret: "x" } }, "parameters.client_secret"]
      ]
      for (const [parameters, field] of bad) {
        for (let i = 0; i < 2; i++) {
          const error = yield* Effect.flip(service.getToken(name, parameters))
          assert.strictEqual(error._tag, "ClientConfigurationError")
          assert.strictEqual((error as TokenError.ClientConfigurationError).field, field)
        }
        // Nothing was cached for them, so there is nothing to forget.
        yield* service.invalidate(name, parameters)
      }
      assert.strictEqual(reads, 0)
      assert.strictEqual(endpoint.requests, 0)
      assert.deepStrictEqual(
        yield* Effect.all([
          count(TokenMetrics.tokenRequests, name),
          count(TokenMetrics.cacheMisses, name),
          count(TokenMetrics.cacheHits, name)
        ]),
        [0, 0, 0]
      )
      // The same service still serves good parameters.
      assert.strictEqual(valueOf(yield* service.getToken(name, { scope: "api.read" })), "token-1")
      assert.strictEqual(reads, 1)
    }))
})

describe("TokenService request bound", () => {
  /**
   * A shared cache that hands a caller another replica's token the moment that replica publishes it,
   * abandoning the request of its own (interrupted wherever it is, waiting for its turn too).
   * `publish(client, token)` publishes for the request under way of `client`.
   */
  const replicaCache = Effect.map(TokenCache.makeMemory(), (memory) => {
    const published = new Map<string, Deferred.Deferred<AccessToken.AccessToken>>()
    const service: TokenCache.TokenCache.Service = {
      ...memory,
      coordinate: (key, request) =>
        Effect.suspend(() => {
          const other = Deferred.unsafeMake<AccessToken.AccessToken>(FiberId.none)
          // A key is the client's name and a digest.
          published.set(key.split(":")[0], other)
          return Effect.race(request, Deferred.await(other))
        })
    }
    const publish = (client: string, token: AccessToken.AccessToken) => Deferred.succeed(published.get(client)!, token)
    return { service, published, publish }
  })

  it.scoped("queues token requests beyond maxConcurrentRequests per token endpoint, gives up the place of one abandoned while it waits, and measures each wait", () =>
    Effect.gen(function*() {
      // A clock that does not start at 0, so that a wait measured from the wrong end shows.
      yield* TestClock.adjust("1 hour")
      const endpoint = new FakeEndpoint()
      const gate = yield* endpoint.hold
      const replicas = yield* replicaCache
      const names = Array.from({ length: 10 }, (_, i) => `bounded-${i}-${Math.random().toString(36).slice(2)}`)
      const service = yield* makeService(endpoint, {
        clients: {
          ...Object.fromEntries(names.map((name) => [name, client()])),
          elsewhere: client({ tokenEndpoint: "https://other.example.com/connect/token" })
        },
        maxConcurrentRequests: 4
      }, Layer.succeed(TokenCache.TokenCache, replicas.service))
      const callers = yield* Effect.forEach(names.slice(0, 9), (name) => Effect.fork(service.getToken(name)))
      yield* endpoint.awaitRequests(4)
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
      assert.strictEqual(endpoint.requests, 4, "the others wait for their turn")
      assert.strictEqual(replicas.published.size, 9)
      const first = endpoint.log.map((entry) => entry.client)
      const waiting = names.slice(0, 9).filter((name) => !first.includes(name))
      // The last comes when five wait already: its request waits behind theirs.
      const last = names[9]
      const lastCaller = yield* Effect.fork(service.getToken(last))
      for (let i = 0; i < 100 && !replicas.published.has(last); i++) yield* Effect.yieldNow()
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
      // Another token endpoint has a bound of its own.
      const elsewhere = yield* Effect.fork(service.getToken("elsewhere"))
      yield* endpoint.awaitRequests(5)

      // Another replica's token comes for the last: its request, waiting for its turn, is abandoned,
      // and its place given up without handing a turn to anyone (four requests still hold them).
      const fromReplica = AccessToken.make({ value: "from-replica", receivedAt: yield* DateTime.now, expiresIn: 3600 })
      yield* replicas.publish(last, fromReplica)
      assert.strictEqual(valueOf(yield* Fiber.join(lastCaller)), "from-replica")
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
      assert.strictEqual(endpoint.requests, 5, "an abandoned request frees no turn that is not its")
      // A caller interrupted while its request waits does not cancel the request.
      const interrupted = names.indexOf(waiting[waiting.length - 1])
      yield* Fiber.interrupt(callers[interrupted])

      yield* TestClock.adjust("2 seconds")
      yield* Deferred.succeed(gate, void 0)
      for (const [i, caller] of callers.entries()) if (i !== interrupted) yield* Fiber.join(caller)
      yield* Fiber.join(elsewhere)
      // The four first, the five that waited (the interrupted caller's among them), and elsewhere's.
      assert.strictEqual(endpoint.requests, 10)
      assert.isFalse(endpoint.log.some((entry) => entry.client === last), "the abandoned request was never sent")
      const waited = (name: string) =>
        Effect.map(
          Metric.value(Metric.tagged(TokenMetrics.tokenRequestWait, "client", name)),
          (state) => [state.count, state.sum]
        )
      assert.deepStrictEqual(
        yield* Effect.forEach(names, waited),
        names.map((name) => name === last ? [0, 0] : first.includes(name) ? [1, 0] : [1, 2000])
      )
      // Nothing is left of its place: the next request of the last goes at once.
      assert.strictEqual(valueOf(yield* service.getToken(last, { forceRenewal: true })), "token-11")
      assert.deepStrictEqual(yield* waited(last), [1, 0])
    }))
})

describe("TokenService request bound by authorization server", () => {
  /**
   * A token endpoint that holds every request until the test lets the requests in flight go,
   * counting them in flight by `keyOf` of their token endpoint.
   */
  const heldEndpoint = (keyOf: (tokenEndpoint: string) => string) => {
    const state = { requests: 0, inFlight: new Map<string, number>(), most: new Map<string, number>() }
    const held: Array<Deferred.Deferred<void>> = []
    /** `answer` once the test lets the requests in flight go, counted in flight under `keyOf(url)`. */
    const inFlight = <A>(url: string, answer: Effect.Effect<A>) =>
      Effect.suspend(() => {
        const key = keyOf(url)
        const now = (state.inFlight.get(key) ?? 0) + 1
        state.requests++
        state.inFlight.set(key, now)
        state.most.set(key, Math.max(state.most.get(key) ?? 0, now))
        const turn = Deferred.unsafeMake<void>(FiberId.none)
        held.push(turn)
        return Deferred.await(turn).pipe(
          Effect.zipRight(answer),
          Effect.ensuring(Effect.sync(() => state.inFlight.set(key, state.inFlight.get(key)! - 1)))
        )
      })
    const layer = TokenEndpointClient.layerTest(
      (definition, _request, target) =>
        inFlight(
          target?.tokenEndpoint ?? definition.tokenEndpoint!,
          Effect.map(DateTime.now, (receivedAt) =>
            AccessToken.make({ value: `token-${state.requests}`, receivedAt, expiresIn: 3600 }))
        ),
      // An issuer per tenant: `<issuer>/token` is its token endpoint.
      (issuer) =>
        inFlight(
          issuer,
          Effect.succeed({
            metadata: { issuer, token_endpoint: `${issuer}/token` },
            location: `${issuer}/.well-known/openid-configuration`,
            maxAge: undefined
          })
        )
    )
    /** Lets every caller run as far as it can, then answers the requests in flight; until all are done. */
    const serve = <A, E>(callers: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(callers)
        while (fiber.unsafePoll() === null) {
          for (let i = 0; i < 500; i++) yield* Effect.yieldNow()
          for (const turn of held.splice(0)) Deferred.unsafeDone(turn, Exit.void)
        }
        return yield* Fiber.join(fiber)
      })
    return { state, layer, serve }
  }

  it.scoped("50 cold tenants with paths of their own on one host never exceed the bound", () => {
    const endpoint = heldEndpoint((url) => new URL(url).origin)
    return Effect.gen(function*() {
      const service = yield* TokenService.make({
        clients: {},
        // Microsoft Entra ID: one token endpoint path per tenant, one server.
        resolveClient: (tenant) =>
          Effect.succeed(client({ tokenEndpoint: `https://login.example.com/${tenant}/oauth2/v2.0/token` })),
        maxConcurrentRequests: 4
      })
      const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`)
      yield* endpoint.serve(Effect.forEach(tenants, (tenant) => service.getToken(tenant), { concurrency: "unbounded" }))
      assert.strictEqual(endpoint.state.requests, 50)
      assert.strictEqual(endpoint.state.most.get("https://login.example.com"), 4)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("50 cold tenants with an issuer each on one host retrieve their metadata within the bound too", () => {
    const endpoint = heldEndpoint((url) => new URL(url).origin)
    return Effect.gen(function*() {
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (tenant) =>
          Effect.succeed(client({ tokenEndpoint: undefined, issuer: `https://login.example.com/${tenant}/v2.0` })),
        maxConcurrentRequests: 4
      })
      const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`)
      yield* endpoint.serve(Effect.forEach(tenants, (tenant) => service.getToken(tenant), { concurrency: "unbounded" }))
      // 50 metadata documents and 50 tokens, never more than 4 requests of either kind at once.
      assert.strictEqual(endpoint.state.requests, 100)
      assert.strictEqual(endpoint.state.most.get("https://login.example.com"), 4)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("requestBoundKey groups token endpoints otherwise: a bound per Keycloak realm", () => {
    const realmOf = (url: string) => url.split("/protocol/")[0]
    const endpoint = heldEndpoint(realmOf)
    return Effect.gen(function*() {
      const realms = ["north", "south"]
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (tenant) =>
          Effect.succeed(client({
            tokenEndpoint: `https://keycloak.example.com/realms/${
              realms[Number(tenant.split("-")[1]) % 2]
            }/protocol/openid-connect/token`
          })),
        maxConcurrentRequests: 3,
        requestBoundKey: (tokenEndpoint) => realmOf(tokenEndpoint.href)
      })
      const tenants = Array.from({ length: 40 }, (_, i) => `tenant-${i}`)
      yield* endpoint.serve(Effect.forEach(tenants, (tenant) => service.getToken(tenant), { concurrency: "unbounded" }))
      assert.strictEqual(endpoint.state.requests, 40)
      assert.deepStrictEqual(
        realms.map((realm) => endpoint.state.most.get(`https://keycloak.example.com/realms/${realm}`)),
        [3, 3]
      )
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

describe("TokenService capacity", () => {
  const scopesHeld = (service: TokenService.TokenService.Service) =>
    Effect.map(service.readiness, (view) => view.clients[0].tokens.slice(1).map((token) => token.scope))

  it.scoped("keeps per-request tokens within capacity: expired ones go first, then the oldest, a tenth at a time", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint, { capacity: 20 })
      const scope = (i: number) => `s${i}`
      for (let i = 0; i < 10; i++) yield* service.getToken("api", { scope: scope(i) })
      yield* TestClock.adjust("30 minutes")
      for (let i = 10; i < 20; i++) yield* service.getToken("api", { scope: scope(i) })
      // s0..s9 are stale now (an hour's token, a minute's buffer); s10..s19 are not.
      yield* TestClock.adjust(Duration.seconds(29 * 60 + 30))
      yield* service.getToken("api", { scope: scope(20) })
      assert.deepStrictEqual(yield* scopesHeld(service), Array.from({ length: 11 }, (_, i) => scope(i + 10)))
      for (let i = 21; i < 30; i++) yield* service.getToken("api", { scope: scope(i) })
      // Full with fresh tokens: the next miss drops the two oldest (a tenth of 20) to make room.
      yield* service.getToken("api", { scope: scope(30) })
      assert.deepStrictEqual(yield* scopesHeld(service), Array.from({ length: 19 }, (_, i) => scope(i + 12)))
      const misses = Metric.value(Metric.tagged(TokenMetrics.cacheMisses, "client", "api"))
      const before = (yield* misses).count
      yield* service.getToken("api", { scope: scope(11) })
      assert.strictEqual((yield* misses).count, before + 1, "an evicted token goes past the process again")
      yield* service.getToken("api", { scope: scope(29) })
      assert.strictEqual((yield* misses).count, before + 1, "a kept one does not")
    }))
})

describe("TokenService under concurrency", () => {
  it.scoped("10,000 fibers asking for a cold token cause exactly one token request", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      const gate = yield* endpoint.hold
      const fibers = yield* Effect.fork(
        Effect.all(Array.from({ length: 10_000 }, () => service.getToken("api")), { concurrency: "unbounded" })
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, void 0)
      const tokens = yield* Fiber.join(fibers)
      assert.strictEqual(endpoint.requests, 1)
      assert.strictEqual(tokens.length, 10_000)
      assert.isTrue(tokens.every((token) => valueOf(token) === "token-1"))
    }))

  it.scoped("100 clients × 100 fibers cause exactly 100 token requests", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const clients = Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [`client-${i}`, client({ clientId: `client-${i}` })])
      )
      const service = yield* makeService(endpoint, { clients })
      const gate = yield* endpoint.hold
      const fiber = yield* Effect.fork(Effect.all(
        Array.from({ length: 10_000 }, (_, i) => service.getToken(`client-${i % 100}`)),
        { concurrency: "unbounded" }
      ))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, void 0)
      const tokens = yield* Fiber.join(fiber)
      assert.strictEqual(endpoint.requests, 100)
      assert.strictEqual(new Set(tokens.map(valueOf)).size, 100)
      assert.deepStrictEqual(new Set(endpoint.log.map((entry) => entry.client)).size, 100)
    }))

  it.scoped("delivers a failure to every waiter and does not cache it", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      endpoint.respond = () => Effect.fail(refused)
      const gate = yield* endpoint.hold
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 50 }, () => Effect.exit(service.getToken("api"))), { concurrency: "unbounded" })
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, void 0)
      const exits = yield* Fiber.join(fiber)
      assert.isTrue(exits.every((exit) => Exit.isFailure(exit)))
      assert.strictEqual(endpoint.requests, 1)
      endpoint.gate = undefined
      endpoint.respond = (n) =>
        Effect.map(DateTime.now, (receivedAt) =>
          AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-2")
    }))

  it.scoped("interrupting the caller that started a request does not cancel it for the others", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      const gate = yield* endpoint.hold
      const starter = yield* Effect.fork(service.getToken("api"))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(service.getToken("api"))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(starter)
      yield* Deferred.succeed(gate, void 0)
      assert.strictEqual(valueOf(yield* Fiber.join(waiter)), "token-1")
      assert.strictEqual(endpoint.requests, 1)
    }))

  it.effect("stops background renewal when the layer is released", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const fiberDone = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const service = yield* makeService(endpoint, { refreshRetrySchedule: Schedule.spaced("1 second") })
        yield* service.getToken("api")
        endpoint.respond = () => Effect.onInterrupt(Effect.never, () => Deferred.succeed(fiberDone, void 0))
        yield* TestClock.adjust("2400 seconds")
        yield* service.getToken("api")
        yield* endpoint.awaitRequests(2)
      }))
      assert.isTrue(yield* Deferred.isDone(fiberDone))
    }))
})

describe("TokenService with a TokenCache", () => {
  const failingCache = Layer.succeed(
    TokenCache.TokenCache,
    TokenCache.make({
      get: () => Effect.fail(new TokenError.TokenCacheError({ operation: "get", description: "connection lost" })),
      set: () => Effect.fail(new TokenError.TokenCacheError({ operation: "set", description: "connection lost" })),
      remove: () => Effect.fail(new TokenError.TokenCacheError({ operation: "remove", description: "connection lost" }))
    })
  )

  it.scoped("falls back to the token endpoint when the cache fails, and warns once that it is unavailable", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
      const service = yield* makeService(endpoint, {}, failingCache)
      const token = yield* service.getToken("api").pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.strictEqual(valueOf(token), "token-1")
      assert.deepStrictEqual(logs, [
        "WARN Token cache get failed: connection lost; carrying on without the cache until it answers again"
      ])
    }))

  it.scoped("reuses a token another service instance stored in the shared cache", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const cache = yield* TokenCache.makeMemory()
      const cacheLayer = Layer.succeed(TokenCache.TokenCache, cache)
      const first = yield* makeService(endpoint, {}, cacheLayer)
      const second = yield* makeService(endpoint, {}, cacheLayer)
      assert.strictEqual(valueOf(yield* first.getToken("api")), "token-1")
      assert.strictEqual(valueOf(yield* second.getToken("api")), "token-1")
      assert.strictEqual(endpoint.requests, 1)
    }))

  it.scoped("never puts the secret in a cache key or a stored value", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const written: Array<[string, string]> = []
      const store = KeyValueStore.makeStringOnly({
        get: () => Effect.succeed(Option.none()),
        set: (key, value) => Effect.sync(() => void written.push([key, value])),
        remove: () => Effect.void,
        clear: Effect.void,
        size: Effect.succeed(0)
      })
      const cache = TokenCache.layerKeyValueStore().pipe(
        Layer.provide(Layer.succeed(KeyValueStore.KeyValueStore, store))
      )
      const service = yield* makeService(endpoint, {}, cache)
      yield* service.getToken("api")
      yield* service.getToken("api", { scope: "other" })
      assert.strictEqual(written.length, 2)
      for (const [key, value] of written) {
        assert.notInclude(key, SECRET)
        assert.notInclude(value, SECRET)
        assert.match(key, /^access-token\/api:[0-9a-f]{64}$/)
      }
      assert.notStrictEqual(written[0][0], written[1][0])
      assert.notInclude((yield* resolve(yield* clientDefinition())).localKey, SECRET)
    }))

  it.scoped("a rejected token whose renewal fails is not served again from the cache", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const service = yield* makeService(endpoint)
      const rejected = yield* service.getToken("api")
      endpoint.respond = () => Effect.fail(refused)
      const error = yield* Effect.flip(service.getToken("api", { rejected }))
      assert.strictEqual(error._tag, "TokenRefusedError")
      endpoint.respond = (n) =>
        Effect.map(DateTime.now, (receivedAt) =>
          AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: "1 hour" }))
      assert.strictEqual(valueOf(yield* service.getToken("api")), "token-3")
    }))

  it.scoped("a cache entry never outlives the token's expiry minus the buffer", () =>
    Effect.gen(function*() {
      const endpoint = new FakeEndpoint()
      const ttls: Array<Duration.Duration> = []
      const cache = Layer.succeed(
        TokenCache.TokenCache,
        TokenCache.make({
          get: () => Effect.succeed(Option.none()),
          set: (_key, _token, ttl) => Effect.sync(() => void ttls.push(ttl)),
          remove: () => Effect.void
        })
      )
      const service = yield* makeService(endpoint, {}, cache)
      yield* service.getToken("api")
      assert.deepStrictEqual(ttls, [Duration.seconds(3539)])
    }))
})

const clientDefinition = () => ClientCredentialsClient.make(client(), "api")
