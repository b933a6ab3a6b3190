/**
 * The request bound's own state: one gate per authorization server while it has requests under way
 * or waiting, none once they are done, so that tenants with token endpoints of their own leave
 * nothing behind.
 */
// @ts-nocheck

import { TokenRequestBound } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric } from "effect"
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
