/**
 * The real token endpoint client, over undici, against a token endpoint that misbehaves in every
 * way the fault server knows: each fault ends, within the timeout and retry budget, in a token or
 * a typed error, after as many attempts as the schedule allows, and leaves nothing behind.
 */
// @ts-nocheck

import {
  type AccessToken,
  ClientCredentialsClient,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenService
} from "@access-token/core"
import { HttpClient, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  DateTime,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schedule,
  TestClock,
  TestContext
} from "effect"
import type { Scope } from "effect"
import * as FaultServer from "./utils/FaultServer.js"

const requestTimeout = Duration.millis(250)
const retryDelay = Duration.millis(20)
const retrySchedule = Schedule.spaced(retryDelay).pipe(Schedule.intersect(Schedule.recurs(2)))
const attempts = 3
const maxRetryAfter = Duration.millis(250)
/** The longest one acquisition may take: every attempt timing out, every wait at its longest. */
const budget = Duration.sum(Duration.times(requestTimeout, attempts), Duration.times(maxRetryAfter, attempts - 1))
/** What the machine may add to the budget: connection set-up, scheduling. */
const slack = Duration.seconds(1)

// A rejection or exception that nothing handles is a bug even when every assertion passes.
const escaped: Array<unknown> = []
const onEscape = (error: unknown) => {
  escaped.push(error)
}
beforeAll(() => {
  process.on("unhandledRejection", onEscape)
  process.on("uncaughtException", onEscape)
})
afterAll(() => {
  process.off("unhandledRejection", onEscape)
  process.off("uncaughtException", onEscape)
  assert.deepStrictEqual(escaped, [])
})

/** Counts what the service did: token acquisitions, and HTTP attempts including refused ones. */
interface Counters {
  acquisitions: number
  attempts: number
  readonly responses: Array<HttpClientResponse.HttpClientResponse>
}

interface Harness {
  readonly server: FaultServer.FaultServer
  readonly client: ClientCredentialsClient.ClientCredentialsClient
  readonly endpoint: TokenEndpointClient.TokenEndpointClient.Service
  readonly tokens: TokenService.TokenService.Service
  readonly counters: Counters
}

/** A fault server, and the real endpoint client and token service in front of it, for one test. */
const harness = (options?: {
  readonly server?: FaultServer.Options
  readonly service?: Omit<TokenService.Options, "clients">
  readonly endpoint?: TokenEndpointClient.Options
}): Effect.Effect<Harness, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make(options?.server)
    const counters: Counters = { acquisitions: 0, attempts: 0, responses: [] }
    const http = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (client) =>
        client.pipe(
          HttpClient.tapRequest(() =>
            Effect.sync(() => {
              counters.attempts++
            })
          ),
          // Held, so that no garbage collection aborts a response the library forgot to close.
          HttpClient.tap((response) =>
            Effect.sync(() => {
              counters.responses.push(response)
            })
          )
        ))
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    const endpoint = Layer.effect(
      TokenEndpointClient.TokenEndpointClient,
      Effect.map(TokenEndpointClient.TokenEndpointClient, (endpoint) =>
        TokenEndpointClient.TokenEndpointClient.of({
          discover: endpoint.discover,
          requestToken: (client, parameters) =>
            Effect.suspend(() => {
              counters.acquisitions++
              return endpoint.requestToken(client, parameters)
            })
        }))
    ).pipe(
      Layer.provide(
        TokenEndpointClient.layer({ requestTimeout, retrySchedule, maxRetryAfter, ...options?.endpoint }).pipe(
          Layer.provide(http)
        )
      )
    )
    const input: ClientCredentialsClient.Input = {
      tokenEndpoint: server.url,
      clientId: "worker",
      clientSecret: Redacted.make("reliability-secret")
    }
    const service = TokenService.layer({ ...options?.service, clients: { worker: input } }).pipe(
      Layer.provide([endpoint, TokenCache.layerMemory()]),
      Layer.orDie
    )
    const context = yield* Layer.build(Layer.merge(service, endpoint))
    return {
      server,
      client: yield* Effect.orDie(ClientCredentialsClient.make(input, "worker")),
      endpoint: Context.get(context, TokenEndpointClient.TokenEndpointClient),
      tokens: Context.get(context, TokenService.TokenService),
      counters
    }
  })

/** Runs `effect`, failing the test if it does not end within the acquisition budget. */
const withinBudget = <A, E>(effect: Effect.Effect<A, E>, what: string) =>
  effect.pipe(
    Effect.exit,
    Effect.timeoutFail({
      duration: Duration.sum(budget, slack),
      onTimeout: () => new Error(`${what} did not end within ${Duration.format(Duration.sum(budget, slack))}`)
    }),
    Effect.orDie
  )

/** The error of an exit that must be a typed failure: never a defect, never an interruption. */
const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) assert.fail(`expected a typed error, got a success`)
  assert.isTrue(Cause.isFailType(exit.cause), `expected a typed error, got:\n${Cause.pretty(exit.cause)}`)
  return (exit.cause as Cause.Fail<E>).error
}

const success = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) assert.fail(`expected a token, got:\n${Cause.pretty(exit.cause)}`)
  return exit.value
}

const checkOutcome = (
  outcome: FaultServer.Outcome,
  exit: Exit.Exit<AccessToken.AccessToken, TokenError.TokenError>
) => {
  if (outcome._tag === "Token") {
    const token = success(exit)
    if (outcome.type !== undefined) assert.strictEqual(token.type, outcome.type)
    if (outcome.lifetimeSeconds !== undefined) {
      assert.isDefined(token.expiresAt)
      assert.strictEqual(
        DateTime.toEpochMillis(token.expiresAt!) - DateTime.toEpochMillis(token.receivedAt),
        outcome.lifetimeSeconds * 1000
      )
    }
    return
  }
  const error = typedFailure(exit)
  assert.isTrue(TokenError.isTokenError(error))
  assert.strictEqual(error._tag, outcome.error, error.message)
  if (outcome.reason !== undefined) {
    assert.strictEqual((error as TokenError.TokenTransportError).reason, outcome.reason, error.message)
  }
  if (outcome.status !== undefined) {
    assert.strictEqual((error as TokenError.InvalidTokenResponseError).status, outcome.status, error.message)
  }
  if (error._tag !== "UnknownClientError") assert.strictEqual(TokenError.isRetryable(error), outcome.retried)
  if (outcome.retryAfter === true) {
    const retryAfter = (error as TokenError.InvalidTokenResponseError).retryAfter
    assert.isDefined(retryAfter)
    assert.isTrue(Duration.greaterThan(retryAfter!, maxRetryAfter), Duration.format(retryAfter!))
  }
}

const expectedAttempts = (outcome: FaultServer.Outcome) => outcome._tag === "Error" && outcome.retried ? attempts : 1

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

describe("TokenEndpointClient against a faulty token endpoint", () => {
  for (const fault of FaultServer.faults("fault-token")) {
    it.scopedLive(`${fault.name}: ends as the schedule says, then the next request succeeds`, () =>
      Effect.gen(function*() {
        const { client, counters, endpoint, server } = yield* harness()
        yield* fault.start(server)
        const [exit, elapsed] = yield* timed(withinBudget(endpoint.requestToken(client), fault.name))
        checkOutcome(fault.outcome, exit)
        const tries = expectedAttempts(fault.outcome)
        assert.strictEqual(counters.attempts, tries, "attempts")
        assert.strictEqual(server.count, fault.reachesServer ? tries : 0, "requests received")
        if (fault.outcome._tag === "Error" && fault.outcome.retryAfter === true) {
          // Retry-After asked for more than maxRetryAfter: every wait is exactly the cap.
          assert.isAtLeast(elapsed, Duration.toMillis(maxRetryAfter) * (attempts - 1) - 5)
        }

        yield* fault.stop(server)
        const after = yield* endpoint.requestToken(client)
        assert.strictEqual(Redacted.value(after.value), `token-${server.count}`)
      }))

    it.scopedLive(`${fault.name}: the token service caches nothing invalid and recovers`, () =>
      Effect.gen(function*() {
        const { counters, server, tokens } = yield* harness()
        yield* fault.start(server)
        const exit = yield* withinBudget(tokens.getToken("worker"), fault.name)
        checkOutcome(fault.outcome, exit)
        assert.strictEqual(counters.acquisitions, 1)
        assert.strictEqual(counters.attempts, expectedAttempts(fault.outcome))

        yield* fault.stop(server)
        // A client whose credentials were refused is held back (refusalBackoff) until a token, a
        // new definition or `drop`: what its operator does once the credentials are fixed.
        const error = Exit.isFailure(exit) ? typedFailure(exit) : undefined
        if (error?._tag === "TokenRefusedError" && ["invalid_client", "unauthorized_client"].includes(error.error)) {
          yield* tokens.drop("worker")
        }
        const next = yield* tokens.getToken("worker")
        const again = yield* tokens.getToken("worker")
        if (fault.outcome._tag === "Token" && fault.outcome.cached) {
          // The token of the fault was good: it is served from memory without a request.
          assert.strictEqual(next, success(exit))
          assert.strictEqual(counters.acquisitions, 1)
        } else {
          assert.strictEqual(Redacted.value(next.value), `token-${server.count}`)
          assert.strictEqual(counters.acquisitions, 2)
        }
        assert.strictEqual(again, next, "the token after the fault is cached")
      }))
  }

  it.scopedLive("an oversized body is abandoned: the connection is closed, not left half-read", () =>
    Effect.gen(function*() {
      const { client, endpoint, server } = yield* harness()
      // Larger than every buffer on the way, so that it stays unfinished unless the client lets go.
      server.fail(FaultServer.Reply.large(256 * 1024 * 1024, false))
      typedFailure(yield* Effect.exit(endpoint.requestToken(client)))
      yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: () => server.openResponses === 0, times: 50 }))
      assert.strictEqual(server.openResponses, 0)
    }))

  it.scopedLive("a request that timed out is abandoned: the server sees the connection closed", () =>
    Effect.gen(function*() {
      const { client, endpoint, server } = yield* harness()
      server.fail(FaultServer.Reply.hang)
      typedFailure(yield* Effect.exit(endpoint.requestToken(client)))
      yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: () => server.openResponses === 0, times: 50 }))
      assert.strictEqual(server.openResponses, 0)
    }))
})

describe("TokenService under faults and concurrency", () => {
  it.scopedLive("1,000 concurrent callers while the endpoint fails then recovers: one request series per acquisition", () =>
    Effect.gen(function*() {
      const { counters, server, tokens } = yield* harness()
      // Five failures: a whole acquisition (three attempts), then two more before the token.
      server.enqueue(...Array.from({ length: 5 }, () => FaultServer.Reply.status(503)))
      const wave = Effect.forEach(
        Array.from({ length: 1000 }),
        () => Effect.exit(tokens.getToken("worker")),
        { concurrency: "unbounded" }
      )
      const first = yield* withinBudget(wave, "the first 1,000 callers").pipe(Effect.flatMap(Effect.orDie))
      for (const exit of first) {
        const error = typedFailure(exit)
        assert.strictEqual(error._tag, "InvalidTokenResponseError")
      }
      assert.strictEqual(counters.acquisitions, 1)
      assert.strictEqual(server.count, attempts)

      const second = yield* withinBudget(wave, "the next 1,000 callers").pipe(Effect.flatMap(Effect.orDie))
      const values = new Set(second.map((exit) => Redacted.value(success(exit).value)))
      assert.deepStrictEqual(values, new Set(["token-6"]))
      assert.strictEqual(counters.acquisitions, 2)
      assert.strictEqual(server.count, 6)
    }))

  it.scopedLive("1,000 callers arriving over time while the endpoint fails: requests bounded by acquisitions", () =>
    Effect.gen(function*() {
      const { counters, server, tokens } = yield* harness()
      server.enqueue(...Array.from({ length: 7 }, () => FaultServer.Reply.status(503)))
      const exits = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => (i * 7919) % 300),
        (delay) => Effect.sleep(Duration.millis(delay)).pipe(Effect.zipRight(Effect.exit(tokens.getToken("worker")))),
        { concurrency: "unbounded" }
      ).pipe(
        Effect.timeoutFail({
          duration: Duration.sum(Duration.millis(300), Duration.times(Duration.sum(budget, slack), 3)),
          onTimeout: () => new Error("a caller hung")
        }),
        Effect.orDie
      )
      for (const exit of exits) {
        if (Exit.isFailure(exit)) assert.strictEqual(typedFailure(exit)._tag, "InvalidTokenResponseError")
      }
      // Each acquisition is one series of at most `attempts` requests, shared by every caller
      // that arrives while it runs; failures are never cached, so callers after one start another.
      assert.isAtMost(server.count, counters.acquisitions * attempts)
      assert.isAtMost(counters.acquisitions, 10)
      // The next call after the fault clears gets a token.
      server.clear()
      const token = yield* tokens.getToken("worker")
      assert.strictEqual(Redacted.value(token.value), `token-${server.count}`)
    }))
})

describe("TokenService when callers are interrupted", () => {
  it.scopedLive("interrupting the caller during the request does not cancel it for the next caller", () =>
    Effect.gen(function*() {
      const { counters, server, tokens } = yield* harness()
      server.enqueue(FaultServer.Reply.delay(150, FaultServer.Reply.token({ value: "token-1" })))
      const first = yield* Effect.fork(tokens.getToken("worker"))
      yield* Effect.sleep("10 millis").pipe(Effect.repeat({ until: () => server.count === 1, times: 100 }))
      yield* Fiber.interrupt(first)
      const token = yield* withinBudget(tokens.getToken("worker"), "the next caller").pipe(Effect.flatMap(Effect.orDie))
      assert.strictEqual(Redacted.value(token.value), "token-1")
      assert.strictEqual(server.count, 1)
      assert.strictEqual(counters.acquisitions, 1)
    }))

  it.scopedLive("interrupting the caller during a retry delay does not cancel the retries", () =>
    Effect.gen(function*() {
      const { counters, server, tokens } = yield* harness()
      server.enqueue(FaultServer.Reply.tooManyRequests("1"))
      const first = yield* Effect.fork(tokens.getToken("worker"))
      yield* Effect.sleep("10 millis").pipe(Effect.repeat({ until: () => server.count === 1, times: 100 }))
      yield* Effect.sleep("50 millis") // inside the Retry-After wait
      yield* Fiber.interrupt(first)
      const token = yield* withinBudget(tokens.getToken("worker"), "the next caller").pipe(Effect.flatMap(Effect.orDie))
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.strictEqual(server.count, 2)
      assert.strictEqual(counters.acquisitions, 1)
    }))

  it.scopedLive("interrupting a caller waiting on a background renewal leaves the renewal to the next caller", () =>
    Effect.gen(function*() {
      // A two-second token: stale after one second (the buffer of a short token is a second),
      // renewed in the background from 100 ms.
      const { counters, server, tokens } = yield* harness({
        server: { token: (n) => FaultServer.Reply.token({ value: `token-${n}`, expiresIn: n === 1 ? 2 : 3600 }) },
        service: { refreshWindow: { margin: "900 millis" } },
        endpoint: { requestTimeout: "5 seconds" }
      })
      const first = yield* tokens.getToken("worker")
      assert.strictEqual(Redacted.value(first.value), "token-1")
      yield* Effect.sleep("150 millis")
      server.enqueue(FaultServer.Reply.delay(1200, FaultServer.Reply.token({ value: "token-2" })))
      // In the refresh window: the current token, and a renewal starts in the background.
      assert.strictEqual(yield* tokens.getToken("worker"), first)
      yield* Effect.sleep("10 millis").pipe(Effect.repeat({ until: () => server.count === 2, times: 100 }))
      yield* Effect.sleep("950 millis") // the token is now stale; the renewal is still under way
      const waiting = yield* Effect.fork(tokens.getToken("worker"))
      yield* Effect.sleep("20 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "the caller did not wait for the renewal")
      yield* Fiber.interrupt(waiting)
      const token = yield* withinBudget(tokens.getToken("worker"), "the next caller").pipe(Effect.flatMap(Effect.orDie))
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.strictEqual(server.count, 2)
      assert.strictEqual(counters.acquisitions, 2)
    }))

  /**
   * A token endpoint on a fake transport, so that `TestClock` drives every delay: 100 ms per
   * answer, `503` for the requests `failing` picks (numbered from 1), otherwise a two-minute token
   * (stale after 90 s, renewed in the background from 60 s).
   */
  const virtualService = (failing: (n: number) => boolean) =>
    Effect.gen(function*() {
      const counters = { requests: 0, acquisitions: 0 }
      const transport = HttpClient.make((request) =>
        Effect.sleep("100 millis").pipe(
          Effect.zipRight(Effect.sync(() => ++counters.requests)),
          Effect.map((n) =>
            HttpClientResponse.fromWeb(
              request,
              failing(n)
                ? new Response("unavailable", { status: 503 })
                : Response.json({ access_token: `token-${n}`, expires_in: 120 })
            )
          )
        )
      )
      const endpoint = Layer.effect(
        TokenEndpointClient.TokenEndpointClient,
        Effect.map(TokenEndpointClient.TokenEndpointClient, (endpoint) =>
          TokenEndpointClient.TokenEndpointClient.of({
            discover: endpoint.discover,
            requestToken: (client, parameters) =>
              Effect.suspend(() => {
                counters.acquisitions++
                return endpoint.requestToken(client, parameters)
              })
          }))
      ).pipe(Layer.provide(
        TokenEndpointClient.layer({
          retrySchedule: Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
        }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, transport)))
      ))
      const layer = TokenService.layer({
        clients: {
          worker: { tokenEndpoint: "https://auth.example.com/token", clientId: "worker", authentication: "none" }
        }
      }).pipe(Layer.provide([endpoint, TokenCache.layerMemory()]), Layer.orDie)
      const context = yield* Layer.build(layer)
      return { tokens: Context.get(context, TokenService.TokenService), counters }
    })

  /** A caller that must have its token once `within` of virtual time has passed. */
  const tokenWithin = (tokens: TokenService.TokenService.Service, within: Duration.DurationInput) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(tokens.getToken("worker"))
      yield* TestClock.adjust(within)
      const exit = yield* Fiber.poll(fiber)
      assert.isTrue(Option.isSome(exit), "the caller is still waiting")
      return success(Option.getOrThrow(exit))
    })

  const runVirtual = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
    effect.pipe(Effect.scoped, Effect.provide(TestContext.TestContext), Effect.runPromise)

  it.effect(
    "interrupting callers at random points of an acquisition never leaves the service stuck",
    () =>
      Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.integer({ min: 0, max: 3 }),
            FastCheck.array(FastCheck.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 5 }),
            (failures, interruptions) =>
              runVirtual(Effect.gen(function*() {
                const { counters, tokens } = yield* virtualService((n) => n <= failures)
                // Callers arrive and are interrupted one after the other, each at its own point:
                // during a request (100 ms each), during a retry delay (50 ms), or before starting.
                for (const millis of interruptions) {
                  const caller = yield* Effect.fork(tokens.getToken("worker"))
                  yield* TestClock.adjust(Duration.millis(millis))
                  yield* Fiber.interrupt(caller)
                }
                const token = yield* tokenWithin(tokens, "2 seconds")
                // However the callers ended, one acquisition (cancelled by none of them) made one token.
                assert.strictEqual(Redacted.value(token.value), `token-${failures + 1}`)
                assert.strictEqual(counters.requests, failures + 1)
                assert.strictEqual(counters.acquisitions, 1)
              }))
          ),
          { numRuns: 40 }
        )
      ),
    30_000
  )

  it.effect(
    "interrupting callers during a background renewal neither cancels it nor makes anyone wait",
    () =>
      Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.integer({ min: 0, max: 3 }),
            FastCheck.integer({ min: 0, max: 40_000 }),
            FastCheck.integer({ min: 0, max: 700 }),
            (failures, later, interruptAfter) =>
              runVirtual(Effect.gen(function*() {
                // The renewal (requests 2, 3, ...) fails `failures` times before it succeeds.
                const { counters, tokens } = yield* virtualService((n) => n >= 2 && n < 2 + failures)
                const first = yield* tokenWithin(tokens, "1 second")
                yield* TestClock.adjust("61 seconds")
                // In the refresh window: the current token at once, the renewal in the background.
                const trigger = yield* Effect.fork(tokens.getToken("worker"))
                yield* TestClock.adjust(Duration.millis(later))
                const caller = yield* Effect.fork(tokens.getToken("worker"))
                yield* TestClock.adjust(Duration.millis(interruptAfter))
                yield* Fiber.interrupt(trigger)
                yield* Fiber.interrupt(caller)
                const now = yield* Clock.currentTimeMillis
                if (now < 80_000) {
                  // Still in the refresh window: the answer comes at once, the old or the new token,
                  // and a few seconds later the renewal has replaced it, in the background.
                  const during = yield* tokenWithin(tokens, 0)
                  assert.isTrue(during === first || Redacted.value(during.value) === `token-${failures + 2}`)
                  yield* TestClock.adjust("5 seconds")
                  const renewed = yield* tokenWithin(tokens, 0)
                  assert.strictEqual(Redacted.value(renewed.value), `token-${failures + 2}`)
                }
                // Past the old token's expiry: the renewed token, from one renewal.
                yield* TestClock.adjust(Duration.millis(Math.max(0, 95_000 - (yield* Clock.currentTimeMillis))))
                const token = yield* tokenWithin(tokens, "2 seconds")
                assert.strictEqual(Redacted.value(token.value), `token-${failures + 2}`)
                assert.strictEqual(counters.requests, failures + 2)
                assert.strictEqual(counters.acquisitions, 2)
              }))
          ),
          { numRuns: 40 }
        )
      ),
    30_000
  )
})

describe("with the default settings, the bounds of the README's failure table hold", () => {
  /**
   * The default endpoint client on a fake transport that answers with `answer` (or never), under
   * `TestClock`: counts attempts and reports when the request ended.
   */
  const defaults = (answer: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<Response>) =>
    Effect.gen(function*() {
      const counters = { attempts: 0 }
      const transport = HttpClient.make((request) =>
        Effect.suspend(() => {
          counters.attempts++
          return Effect.map(answer(request), (response) => HttpClientResponse.fromWeb(request, response))
        })
      )
      const endpoint = yield* TokenEndpointClient.make().pipe(Effect.provideService(HttpClient.HttpClient, transport))
      const client = yield* Effect.orDie(ClientCredentialsClient.make({
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "worker",
        clientSecret: Redacted.make("secret")
      }, "worker"))
      const fiber = yield* Effect.fork(endpoint.requestToken(client))
      /** Moves the clock to `at` and says whether the request has ended by then. */
      const endedBy = (at: Duration.DurationInput) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* TestClock.adjust(Duration.millis(Math.max(0, Duration.toMillis(at) - now)))
          return Option.isSome(yield* Fiber.poll(fiber))
        })
      return { counters, endedBy, result: Fiber.join(fiber).pipe(Effect.flip) }
    })

  it.effect("no answer: 2 attempts of 30 s, over by 60.24 s", () =>
    Effect.gen(function*() {
      const { counters, endedBy, result } = yield* defaults(() => Effect.never)
      assert.isFalse(yield* endedBy("60.15 seconds"))
      assert.isTrue(yield* endedBy("60.24 seconds"))
      assert.strictEqual(counters.attempts, 2)
      assert.strictEqual(((yield* result) as TokenError.TokenTransportError).reason, "Timeout")
    }))

  it.effect("a fast 503: 4 attempts, over by 1.68 s", () =>
    Effect.gen(function*() {
      const { counters, endedBy, result } = yield* defaults(() =>
        Effect.succeed(new Response("unavailable", { status: 503 }))
      )
      assert.isFalse(yield* endedBy("1.11 seconds"))
      assert.isTrue(yield* endedBy("1.68 seconds"))
      assert.strictEqual(counters.attempts, 4)
      assert.strictEqual((yield* result)._tag, "InvalidTokenResponseError")
    }))

  it.effect("a 503 after 5 s each time: 3 attempts, since no retry starts 10 s after the first failure", () =>
    Effect.gen(function*() {
      const { counters, endedBy } = yield* defaults(() =>
        Effect.as(Effect.sleep("5 seconds"), new Response("unavailable", { status: 503 }))
      )
      assert.isTrue(yield* endedBy("15.72 seconds"))
      assert.strictEqual(counters.attempts, 3)
    }))

  it.effect("429 with Retry-After: 120: the wait is capped at 60 s, and 2 attempts are made", () =>
    Effect.gen(function*() {
      const { counters, endedBy, result } = yield* defaults(() =>
        Effect.succeed(new Response("{}", { status: 429, headers: { "retry-after": "120" } }))
      )
      assert.isFalse(yield* endedBy("59.9 seconds"))
      assert.strictEqual(counters.attempts, 1)
      assert.isTrue(yield* endedBy("60 seconds"))
      assert.strictEqual(counters.attempts, 2)
      assert.strictEqual((yield* result)._tag, "InvalidTokenResponseError")
    }))

  it.effect("an invalid token response: 1 attempt, at once", () =>
    Effect.gen(function*() {
      const { counters, endedBy } = yield* defaults(() =>
        Effect.succeed(new Response("<html></html>", { status: 200, headers: { "content-type": "text/html" } }))
      )
      assert.isTrue(yield* endedBy(0))
      assert.strictEqual(counters.attempts, 1)
    }))
})
