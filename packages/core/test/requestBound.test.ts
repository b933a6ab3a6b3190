/**
 * The request bound's own state: one gate per authorization server while it has requests under way
 * or waiting, none once they are done, so that tenants with token endpoints of their own leave
 * nothing behind.
 */
import { TokenRequestBound } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberId, Metric, MetricLabel, TestClock } from "effect"
import { make } from "../src/internal/requestBound.js"
import type { Registration } from "../src/internal/slots.js"

const wait = Metric.timer("request_bound_test_wait")

/** What the bound reads of a registration: its token endpoint and its metric labels. */
const registrationOf = (tokenEndpoint: string) => ({ client: { tokenEndpoint }, labels: [] }) as unknown as Registration

describe("requestBound", () => {
  it.scoped("holds state for a server only while its requests are under way or waiting", () =>
    Effect.gen(function*() {
      const bound = make(2, TokenRequestBound.defaultRequestBoundKey, wait)
      const gate = yield* Deferred.make<void>()
      // A token endpoint host per tenant, and three requests each: two under way, one waiting.
      const tenants = Array.from({ length: 100 }, (_, i) => registrationOf(`https://tenant-${i}.example.com/token`))
      const fibers = yield* Effect.forEach(
        tenants.flatMap((tenant) => [tenant, tenant, tenant]),
        (tenant) => Effect.fork(bound.queued(tenant, undefined, Deferred.await(gate)))
      )
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.strictEqual(bound.size(), 100)
      // A waiting request interrupted, and the others done: nothing is left.
      yield* Fiber.interrupt(fibers[2])
      yield* Deferred.succeed(gate, void 0)
      yield* Effect.forEach(fibers.slice(3), Fiber.join)
      yield* Fiber.join(fibers[0])
      yield* Fiber.join(fibers[1])
      assert.strictEqual(bound.size(), 0)
    }))

  it.scoped("a request interrupted while it waits for its turn leaves nothing either", () =>
    Effect.gen(function*() {
      const bound = make(1, TokenRequestBound.defaultRequestBoundKey, wait)
      const tenant = registrationOf("https://login.example.com/tenant-1/oauth2/v2.0/token")
      const first = yield* Effect.fork(bound.queued(tenant, undefined, Effect.never))
      const second = yield* Effect.fork(bound.queued(tenant, undefined, Effect.never))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.strictEqual(bound.size(), 1)
      yield* Fiber.interrupt(second)
      yield* Fiber.interrupt(first)
      assert.strictEqual(bound.size(), 0)
    }))

  it.scoped("paths of one origin share one gate; a key of the user's separates them", () =>
    Effect.gen(function*() {
      const byOrigin = make(1, TokenRequestBound.defaultRequestBoundKey, wait)
      const byPath = make(1, (url) => url.href, wait)
      const tenants = ["a", "b", "c"].map((t) => registrationOf(`https://login.example.com/${t}/oauth2/v2.0/token`))
      yield* Effect.forEach(tenants, (tenant) => Effect.fork(byOrigin.queued(tenant, undefined, Effect.never)))
      yield* Effect.forEach(tenants, (tenant) => Effect.fork(byPath.queued(tenant, undefined, Effect.never)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.deepStrictEqual([byOrigin.size(), byPath.size()], [1, 3])
    }))
})

describe("requestBound turns", () => {
  /** A bound of `limit`, and requests that record when they start and wait until the test lets them go. */
  const harness = (limit: number) => {
    const bound = make(limit, TokenRequestBound.defaultRequestBoundKey, wait)
    const started: Array<string> = []
    const release = new Map<string, Deferred.Deferred<void>>()
    const request = (tenant: Registration, name: string) =>
      Effect.flatMap(Deferred.make<void>(), (done) => {
        release.set(name, done)
        return Effect.fork(bound.queued(
          tenant,
          undefined,
          Effect.zipRight(Effect.sync(() => started.push(name)), Deferred.await(done))
        ))
      })
    const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow(), { discard: true })
    return { bound, started, release, request, settle }
  }

  it.scoped("a request interrupted while it waits gives up its place: the others go in their turn, not before", () =>
    Effect.gen(function*() {
      const { bound, release, request, settle, started } = harness(1)
      const tenant = registrationOf("https://login.example.com/token")
      yield* request(tenant, "first")
      yield* settle
      const second = yield* request(tenant, "second")
      const third = yield* request(tenant, "third")
      const fourth = yield* request(tenant, "fourth")
      yield* settle
      assert.deepStrictEqual(started, ["first"])
      // A queued request itself is interrupted, behind another: no turn is handed out for it.
      yield* Fiber.interrupt(third)
      yield* settle
      assert.deepStrictEqual(started, ["first"], "the first request still holds the only turn")
      yield* Deferred.succeed(release.get("first")!, void 0)
      yield* settle
      assert.deepStrictEqual(started, ["first", "second"])
      yield* Deferred.succeed(release.get("second")!, void 0)
      yield* Fiber.join(second)
      yield* settle
      assert.deepStrictEqual(started, ["first", "second", "fourth"], "the fourth goes next, the third never")
      yield* Deferred.succeed(release.get("fourth")!, void 0)
      yield* Fiber.join(fourth)
      assert.strictEqual(bound.size(), 0)
    }))

  it.scoped("a request interrupted once its turn was handed to it passes the turn on", () =>
    Effect.gen(function*() {
      const { bound, release, request, settle, started } = harness(1)
      const tenant = registrationOf("https://login.example.com/token")
      const first = yield* request(tenant, "first")
      yield* settle
      const second = yield* request(tenant, "second")
      const third = yield* request(tenant, "third")
      yield* settle
      // The first request ends, handing its turn to the second, which is interrupted before it
      // resumes: the interruption reaches it first, so its request never starts.
      yield* Effect.sync(() => {
        Deferred.unsafeDone(release.get("first")!, Exit.void)
        second.unsafeInterruptAsFork(FiberId.none)
      })
      yield* Fiber.join(first)
      yield* settle
      assert.deepStrictEqual(started, ["first", "third"])
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(second)))
      yield* Deferred.succeed(release.get("third")!, void 0)
      yield* Fiber.join(third)
      assert.strictEqual(bound.size(), 0)
    }))

  it.scoped("a server's state outlives a request that ends while another is under way", () =>
    Effect.gen(function*() {
      const { bound, release, request, settle, started } = harness(2)
      const tenant = registrationOf("https://login.example.com/token")
      const first = yield* request(tenant, "first")
      yield* request(tenant, "second")
      yield* settle
      yield* Deferred.succeed(release.get("first")!, void 0)
      yield* Fiber.join(first)
      assert.strictEqual(bound.size(), 1, "the second request is still under way")
      // It still counts: of two more, one goes, the other waits for a turn.
      yield* request(tenant, "third")
      yield* request(tenant, "fourth")
      yield* settle
      assert.deepStrictEqual(started, ["first", "second", "third"])
    }))

  it.scoped("a token endpoint that does not parse is a server of its own", () =>
    Effect.gen(function*() {
      const { bound, request, settle, started } = harness(1)
      const broken = registrationOf("not a URL")
      yield* request(broken, "first")
      yield* request(broken, "second")
      yield* request(registrationOf("not a URL either"), "other")
      yield* settle
      assert.deepStrictEqual(started, ["first", "other"])
      assert.strictEqual(bound.size(), 2)
    }))

  it.scoped("measures each request's wait for its turn, from the moment it was queued", () =>
    Effect.gen(function*() {
      // A clock that does not start at 0: a wait computed from the wrong end shows.
      yield* TestClock.adjust("1 hour")
      const bound = make(1, TokenRequestBound.defaultRequestBoundKey, wait)
      const label = `wait-${Math.random().toString(36).slice(2)}`
      const tenant = { ...registrationOf("https://login.example.com/token"), labels: [MetricLabel.make("test", label)] }
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(bound.queued(tenant, undefined, Deferred.await(gate)))
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.fork(bound.queued(tenant, undefined, Effect.void))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      yield* TestClock.adjust("2500 millis")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      const state = yield* Metric.value(Metric.tagged(wait, "test", label))
      assert.deepStrictEqual([state.count, state.min, state.max, state.sum], [2, 0, 2500, 2500])
    }))
})
