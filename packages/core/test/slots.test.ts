/**
 * The token service's table of slots: one per distinct token a client is asked for, found again by
 * every call that asks for the same one (so that it is requested once), and kept within the
 * service's capacity without ever dropping a slot whose request or renewal is under way.
 */
import { AccessToken, ClientCredentialsClient, TokenError } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Deferred, Effect, FiberId, Redacted } from "effect"
import { lifetimeOf, type Timed, timed } from "../src/internal/lifetime.js"
import { cacheKeyOf, isFailure, make, register, type Registration, type Slot } from "../src/internal/slots.js"
import { cacheKey } from "../src/internal/tokenRequest.js"

const now = 1_765_000_000_000

const clientOf = (input: Partial<ClientCredentialsClient.Input> = {}) =>
  ClientCredentialsClient.make({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "worker",
    clientSecret: Redacted.make("secret"),
    scope: "api",
    ...input
  }, "api")

const registered = (input: Partial<ClientCredentialsClient.Input> = {}) =>
  Effect.flatMap(clientOf(input), (client) => register("api", client, lifetimeOf({}, client)))

/** The slot of `parameters`, failing the test if they were refused. */
const slotOf = (table: ReturnType<typeof make>, registration: Registration, parameters?: object) => {
  const found = table.slot(registration, parameters, now)
  if (isFailure(found)) return assert.fail(`refused: ${found.message}`)
  return found
}

/** A token received at `receivedAt` for an hour, as the slot holds it. */
const heldToken = (registration: Registration, receivedAt: number): Timed =>
  timed(
    registration.lifetime,
    AccessToken.make({ value: "token", receivedAt: DateTime.unsafeMake(receivedAt), expiresIn: 3600 })
  )

const scopesOf = (table: ReturnType<typeof make>) => Array.from(table.requested(), (slot) => slot.request.scope)

describe("slots", () => {
  it.effect("the client's own request, however it is spelled, is the client's own slot", () =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], 10)
      for (const parameters of [undefined, {}, { scope: "api" }, { scope: "api" }, { parameters: {} }]) {
        assert.strictEqual(slotOf(table, registration, parameters), registration.defaultSlot)
      }
      assert.deepStrictEqual(scopesOf(table), [])
    }))

  it.effect("every call for the same scope, resource or parameters finds the same slot", () =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], 10)
      const asked = [
        { scope: "read" },
        { resource: "https://api.example.com" },
        { resource: ["https://a.example.com", "https://b.example.com"] },
        { parameters: { audience: "x" } },
        { scope: "read", resource: "https://api.example.com" },
        { scope: "read", parameters: { audience: "x" } }
      ]
      const first = asked.map((parameters) => slotOf(table, registration, parameters))
      assert.strictEqual(new Set([registration.defaultSlot, ...first]).size, asked.length + 1, "one slot each")
      for (let i = 0; i < 2; i++) {
        assert.deepStrictEqual(asked.map((parameters) => slotOf(table, registration, parameters)), first)
      }
      // Resources asked for in another order are another request (they are sent in that order), but
      // each is a slot of its own only once.
      const reordered = slotOf(table, registration, { resource: ["https://b.example.com", "https://a.example.com"] })
      assert.strictEqual(
        slotOf(table, registration, { resource: ["https://b.example.com", "https://a.example.com"] }),
        reordered
      )
      assert.strictEqual(Array.from(table.requested()).length, new Set([...first, reordered]).size)
    }))

  it.effect("refuses a malformed scope or resource before making a slot", () =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], 10)
      for (
        const [parameters, field] of [[{ scope: "a  b" }, "scope"], [{ resource: "relative" }, "resource"]] as const
      ) {
        for (let i = 0; i < 2; i++) {
          const refused = table.slot(registration, parameters, now)
          assert.instanceOf(refused, TokenError.ClientConfigurationError)
          assert.strictEqual((refused as TokenError.ClientConfigurationError).field, field)
        }
      }
      assert.deepStrictEqual(scopesOf(table), [])
    }))

  it.effect("a client defined again (its secret rotated) gets slots of its own, not its earlier definition's", () =>
    Effect.gen(function*() {
      const earlier = yield* registered()
      const later = yield* registered({ clientSecret: Redacted.make("rotated") })
      const table = make([earlier], 10)
      for (const parameters of [{ scope: "read" }, { resource: "https://api.example.com" }]) {
        const before = slotOf(table, earlier, parameters)
        const after = slotOf(table, later, parameters)
        assert.notStrictEqual(after, before)
        assert.strictEqual(after.registration, later)
        assert.strictEqual(slotOf(table, later, parameters), after)
        // A call still under way with the earlier definition takes the place back: the later one
        // then gets a slot of its own again, never the earlier's.
        assert.strictEqual(slotOf(table, earlier, parameters).registration, earlier)
        assert.strictEqual(slotOf(table, later, parameters).registration, later)
      }
      // The client's own scope, asked for by name, is the later definition's own slot.
      assert.strictEqual(slotOf(table, later, { scope: "api" }), later.defaultSlot)
    }))

  it.effect("drop removes a client's per-request slots, and returns them with its own", () =>
    Effect.gen(function*() {
      const api = yield* registered()
      const other = yield* Effect.flatMap(clientOf({ clientId: "other" }), (client) =>
        register("other", client, lifetimeOf({}, client)))
      const table = make([api, other], 10)
      const read = slotOf(table, api, { scope: "read" })
      const write = slotOf(table, api, { scope: "write" })
      const others = slotOf(table, other, { scope: "read" })
      assert.deepStrictEqual(table.drop(api), [api.defaultSlot, read, write])
      assert.deepStrictEqual(Array.from(table.requested()), [others])
      // Asked for again, the scope gets a new slot.
      assert.notStrictEqual(slotOf(table, api, { scope: "read" }), read)
    }))

  it.effect("names the client that was asked for, and the known ones, when it is unknown", () =>
    Effect.gen(function*() {
      const api = yield* registered()
      const single = make([api], 10)
      assert.strictEqual(single.registration(undefined), api)
      assert.strictEqual(single.registration("api"), api)
      const unknown = single.registration("billing")
      assert.instanceOf(unknown, TokenError.UnknownClientError)
      assert.strictEqual(
        (unknown as TokenError.UnknownClientError).message,
        "No client named \"billing\" is registered (known clients: \"api\")"
      )
      const other = yield* Effect.flatMap(clientOf(), (client) => register("other", client, lifetimeOf({}, client)))
      // With two clients, a name is needed.
      const unnamed = make([api, other], 10).registration(undefined)
      assert.instanceOf(unnamed, TokenError.UnknownClientError)
      assert.strictEqual(
        (unnamed as TokenError.UnknownClientError).message,
        "No client name was given and 2 clients are registered (\"api\", \"other\"): name one"
      )
    }))
})

describe("slots of a scope asked for alone", () => {
  /**
   * A registration whose client counts the requests resolved for it: resolving reads the client's
   * `resource` (a hit should resolve nothing, a JSON encoding).
   */
  const counted = Effect.gen(function*() {
    const client = yield* clientOf()
    const resolved = { count: 0 }
    const counting = new Proxy(client, {
      get: (target, property) => {
        if (property === "resource") resolved.count++
        return Reflect.get(target, property, target)
      }
    })
    const registration = yield* register("api", counting, lifetimeOf({}, client))
    return { registration, resolved }
  })

  it.effect("are found again without resolving the request again, the client's own scope too", () =>
    Effect.gen(function*() {
      const { registration, resolved } = yield* counted
      const table = make([registration], 10)
      const read = slotOf(table, registration, { scope: "read" })
      slotOf(table, registration, { scope: "api" })
      const before = resolved.count
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(slotOf(table, registration, { scope: "read" }), read)
        assert.strictEqual(slotOf(table, registration, { scope: "api" }), registration.defaultSlot)
        assert.strictEqual(slotOf(table, registration, {}), registration.defaultSlot)
        assert.strictEqual(slotOf(table, registration, undefined), registration.defaultSlot)
      }
      assert.strictEqual(resolved.count, before, "nothing resolved again")
      // With a resource or parameters beside it, a scope is another request, resolved each time.
      const withResource = slotOf(table, registration, { scope: "read", resource: "https://api.example.com" })
      assert.notStrictEqual(withResource, read)
      assert.strictEqual(slotOf(table, registration, { scope: "read" }), read)
      assert.strictEqual(
        slotOf(table, registration, { scope: "read", resource: "https://api.example.com" }),
        withResource
      )
      assert.strictEqual(
        slotOf(table, registration, { scope: "read", parameters: { audience: "x" } }).request.scope,
        "read"
      )
      assert.strictEqual(slotOf(table, registration, { scope: "read" }), read)
      assert.deepStrictEqual(Array.from(registration.scopeKeys!.keys()), ["read", "api"], "scopes asked for alone only")
    }))

  it.effect("remembers several scopes at once", () =>
    Effect.gen(function*() {
      const { registration, resolved } = yield* counted
      const table = make([registration], 10)
      const slots = ["a", "b", "c"].map((scope) => slotOf(table, registration, { scope }))
      const before = resolved.count
      assert.deepStrictEqual(["a", "b", "c"].map((scope) => slotOf(table, registration, { scope })), slots)
      assert.strictEqual(resolved.count, before)
    }))

  it.effect("a scope remembered whose slot was dropped gets a new slot", () =>
    Effect.gen(function*() {
      const { registration } = yield* counted
      const table = make([registration], 10)
      const read = slotOf(table, registration, { scope: "read" })
      // Nine other requests fill the table; the tenth drops the slots that hold nothing, read's too.
      for (let i = 0; i < 10; i++) slotOf(table, registration, { resource: `https://api.example.com/${i}` })
      assert.isFalse(Array.from(table.requested()).includes(read))
      const again = slotOf(table, registration, { scope: "read" })
      assert.notStrictEqual(again, read)
      assert.strictEqual(again.request.scope, "read")
      assert.strictEqual(slotOf(table, registration, { scope: "read" }), again)
    }))
  it.effect("a scope whose slot is made again keeps the other scopes remembered, the table full of them", () =>
    Effect.gen(function*() {
      const { registration } = yield* counted
      const table = make([registration], 10)
      const scopes = Array.from({ length: 10 }, (_, i) => `s${i}`)
      for (const scope of scopes) slotOf(table, registration, { scope })
      // Another request drops them all (none holds a token), but the scopes are still remembered.
      slotOf(table, registration, { resource: "https://api.example.com" })
      assert.strictEqual(slotOf(table, registration, { scope: "s0" }).request.scope, "s0")
      assert.deepStrictEqual(Array.from(registration.scopeKeys!.keys()), scopes)
    }))
})

describe("cacheKeyOf", () => {
  it.effect("is the key of the slot's own request in the TokenCache, one per slot, the same every time", () =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], 10)
      const slots = [registration.defaultSlot, slotOf(table, registration, { scope: "read" })]
      const keys = yield* Effect.forEach(slots, cacheKeyOf)
      assert.deepStrictEqual(keys, yield* Effect.forEach(slots, (slot) => cacheKey(registration.client, slot.request)))
      assert.notStrictEqual(keys[0], keys[1])
      assert.isTrue(keys.every((key) => key.startsWith("api:")))
      assert.deepStrictEqual(yield* Effect.forEach(slots, cacheKeyOf), keys)
      // Kept on the slot, so that the digest is computed once.
      assert.deepStrictEqual(slots.map((slot) => slot.cacheKey), keys)
    }))
})

describe("slots capacity", () => {
  /** A table of `capacity` full of per-scope slots, `s0` the oldest, each holding a token received an hour apart. */
  const full = (capacity: number) =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], capacity)
      const held = Array.from({ length: capacity }, (_, i) => slotOf(table, registration, { scope: `s${i}` }))
      return { registration, table, held }
    })

  const underWay = (slot: Slot) => {
    slot.inflight = Deferred.unsafeMake<AccessToken.AccessToken, TokenError.TokenError>(FiberId.none)
  }

  it.effect("a full table drops the slots that hold nothing usable, never one whose request or renewal is under way", () =>
    Effect.gen(function*() {
      const { held, registration, table } = yield* full(10)
      const fresh = heldToken(registration, now)
      for (const slot of held) slot.current = fresh
      // s0: a first request under way; s1: renewing a stale token; s2: stale; s3: stale this very
      // millisecond; s4: never got a token (its request failed).
      held[0].current = undefined
      underWay(held[0])
      held[1].current = { ...fresh, staleAt: now - 1 }
      held[1].refreshing = true
      held[2].current = { ...fresh, staleAt: now - 1 }
      held[3].current = { ...fresh, staleAt: now }
      held[4].current = undefined
      slotOf(table, registration, { scope: "s10" })
      assert.deepStrictEqual(scopesOf(table), ["s0", "s1", "s5", "s6", "s7", "s8", "s9", "s10"])
    }))

  it.effect("a table full of usable tokens drops the oldest idle ones, a tenth of it, past those under way", () =>
    Effect.gen(function*() {
      const { held, registration, table } = yield* full(20)
      const fresh = heldToken(registration, now)
      for (const slot of held) slot.current = fresh
      underWay(held[0])
      held[1].refreshing = true
      // A request under way for a slot that holds a usable token: a forced renewal.
      underWay(held[3])
      slotOf(table, registration, { scope: "s20" })
      // Two go (a tenth of 20): s2 and s4, the oldest that nothing is under way for.
      assert.deepStrictEqual(
        scopesOf(table),
        ["s0", "s1", "s3", ...Array.from({ length: 15 }, (_, i) => `s${i + 5}`), "s20"]
      )
    }))

  it.effect("a table whose every slot is busy grows past its capacity rather than drop one", () =>
    Effect.gen(function*() {
      const { held, registration, table } = yield* full(10)
      for (const slot of held) underWay(slot)
      slotOf(table, registration, { scope: "s10" })
      assert.strictEqual(Array.from(table.requested()).length, 11)
    }))

  it.effect("a dropped slot is made again when asked for, and a kept one found again", () =>
    Effect.gen(function*() {
      const { held, registration, table } = yield* full(10)
      const fresh = heldToken(registration, now)
      for (const slot of held) slot.current = fresh
      slotOf(table, registration, { scope: "s10" })
      assert.notStrictEqual(slotOf(table, registration, { scope: "s0" }), held[0], "s0, the oldest, was dropped")
      assert.strictEqual(slotOf(table, registration, { scope: "s9" }), held[9])
    }))

  it.effect("remembers the scopes asked for alone within the capacity too", () =>
    Effect.gen(function*() {
      const registration = yield* registered()
      const table = make([registration], 10)
      let most = 0
      for (let i = 0; i < 35; i++) {
        slotOf(table, registration, { scope: `s${i}` })
        most = Math.max(most, registration.scopeKeys!.size)
      }
      assert.strictEqual(most, 10)
      // Found again after the scope keys were cleared: the slot is the one the table still holds.
      const last = slotOf(table, registration, { scope: "s34" })
      assert.strictEqual(slotOf(table, registration, { scope: "s34" }), last)
    }))
})
