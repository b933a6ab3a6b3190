import { AccessToken, ClientCredentialsClient, TokenLifetime } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, FastCheck, Redacted } from "effect"
import {
  effectiveBuffer,
  expiryRounding,
  isFresh,
  type Lifetime,
  lifetimeOf,
  refreshPoint,
  timed
} from "../src/internal/lifetime.js"

const fc = FastCheck
const runs = { numRuns: 2000 }

const epoch = fc.integer({ min: 0, max: 4_000_000_000_000 })
/** A token's lifetime in milliseconds, from 1 ms to a day. */
const lifetimeMillis = fc.integer({ min: 1, max: 86_400_000 })
const bufferMillis = fc.integer({ min: 0, max: 3_600_000 })
const refreshWindow = fc.oneof(
  fc.double({ min: -1, max: 2, noNaN: true }).map((fraction) => ({ fraction })),
  fc.integer({ min: 0, max: 7_200_000 }).map((margin) => ({ margin: Duration.millis(margin) }))
)
const settings = fc.record({
  expirationBuffer: bufferMillis,
  defaultLifetime: fc.integer({ min: 1, max: 3_600_000 }),
  refreshWindow
})

const token = (receivedAt: number, expiresIn: number | undefined, refreshIn?: number) =>
  new AccessToken.AccessToken({
    value: Redacted.make("token"),
    type: "Bearer",
    receivedAt: DateTime.unsafeMake(receivedAt),
    expiresAt: expiresIn === undefined ? undefined : DateTime.unsafeMake(receivedAt + expiresIn),
    refreshAt: refreshIn === undefined ? undefined : DateTime.unsafeMake(receivedAt + refreshIn),
    extra: {}
  })

describe("effectiveBuffer", () => {
  it("never exceeds the configured buffer nor half the lifetime, so every token is used for a while", () => {
    fc.assert(
      fc.property(bufferMillis, lifetimeMillis, (configured, lifetime) => {
        const buffer = effectiveBuffer(configured, lifetime)
        assert.isAtLeast(buffer, 0)
        assert.isAtMost(buffer, configured)
        assert.isAtMost(buffer, lifetime / 2)
      }),
      runs
    )
  })

  it("takes the configured buffer as is when it is under a quarter of the lifetime", () => {
    fc.assert(
      fc.property(bufferMillis, lifetimeMillis, (configured, lifetime) => {
        FastCheck.pre(configured <= lifetime / 4)
        assert.strictEqual(effectiveBuffer(configured, lifetime), configured)
      }),
      runs
    )
  })
})

describe("refreshPoint", () => {
  it("lies between the start of the token's use and the moment it is stale", () => {
    fc.assert(
      fc.property(refreshWindow, epoch, lifetimeMillis, (window, receivedAt, usable) => {
        const at = refreshPoint(window, receivedAt, receivedAt + usable)
        assert.isAtLeast(at, receivedAt)
        assert.isAtMost(at, receivedAt + usable)
      }),
      runs
    )
  })

  it("renews the last `fraction` of the usable lifetime, or `margin` before it is stale", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), epoch, lifetimeMillis, (fraction, receivedAt, usable) => {
        const staleAt = receivedAt + usable
        assert.closeTo(refreshPoint({ fraction }, receivedAt, staleAt), staleAt - usable * fraction, 1e-3)
      }),
      runs
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7_200_000 }), epoch, lifetimeMillis, (margin, receivedAt, usable) => {
        const staleAt = receivedAt + usable
        assert.strictEqual(
          refreshPoint({ margin: Duration.millis(margin) }, receivedAt, staleAt),
          staleAt - Math.min(margin, usable)
        )
      }),
      runs
    )
  })
})

describe("timed", () => {
  it("is stale before it expires, no sooner than it was received, and renewed in between", () => {
    fc.assert(
      fc.property(settings, epoch, lifetimeMillis, (lifetime: Lifetime, receivedAt, expiresIn) => {
        const { refreshAt, staleAt } = timed(lifetime, token(receivedAt, expiresIn))
        assert.isAtLeast(staleAt, receivedAt)
        assert.isAtMost(staleAt, receivedAt + expiresIn)
        assert.isAtLeast(refreshAt, receivedAt)
        assert.isAtMost(refreshAt, staleAt)
      }),
      runs
    )
  })

  it("is never fresh at or after the earliest moment a whole-second exp can fall, and caches from 2 s on", () => {
    fc.assert(
      fc.property(settings, epoch, fc.integer({ min: 0, max: 86_400 }), (lifetime: Lifetime, receivedAt, seconds) => {
        const { staleAt } = timed(lifetime, token(receivedAt, seconds * 1000))
        // `exp = floor(server's now) + expires_in`: the token may expire a second before `expires_in` says.
        assert.isAtMost(staleAt, receivedAt + Math.max(seconds * 1000 - expiryRounding, 0))
        if (seconds <= 1) assert.strictEqual(staleAt, receivedAt, "no usable life: never cached")
        else assert.isAbove(staleAt, receivedAt, "a token of 2 s or more is cached")
      }),
      runs
    )
  })

  it("uses a token without expires_in for the default lifetime", () => {
    fc.assert(
      fc.property(settings, epoch, (lifetime: Lifetime, receivedAt) => {
        const { staleAt } = timed(lifetime, token(receivedAt, undefined))
        assert.strictEqual(staleAt, receivedAt + lifetime.defaultLifetime)
      }),
      runs
    )
  })

  it("follows the server's refresh_in only when it comes before the token is stale", () => {
    fc.assert(
      fc.property(
        settings,
        epoch,
        lifetimeMillis,
        fc.integer({ min: 0, max: 86_400_000 }),
        (lifetime: Lifetime, receivedAt, expiresIn, refreshIn) => {
          const hinted = timed(lifetime, token(receivedAt, expiresIn, refreshIn))
          const plain = timed(lifetime, token(receivedAt, expiresIn))
          assert.strictEqual(hinted.staleAt, plain.staleAt)
          assert.strictEqual(
            hinted.refreshAt,
            receivedAt + refreshIn < plain.staleAt ? receivedAt + refreshIn : plain.refreshAt
          )
        }
      ),
      runs
    )
  })
  it("renews in the refresh window when refresh_in falls exactly when the token is stale", () => {
    fc.assert(
      fc.property(
        settings,
        epoch,
        // Whole milliseconds of usable life divisible by 4, so that the moment it is stale is a whole millisecond.
        fc.integer({ min: 250, max: 21_600_000 }).map((quarters) => expiryRounding + 4 * quarters),
        (lifetime: Lifetime, receivedAt, expiresIn) => {
          const plain = timed(lifetime, token(receivedAt, expiresIn))
          const hinted = timed(lifetime, token(receivedAt, expiresIn, plain.staleAt - receivedAt))
          assert.strictEqual(hinted.refreshAt, plain.refreshAt)
        }
      ),
      runs
    )
  })
})

describe("lifetimeOf", () => {
  it.effect("takes each setting from the client, else from the service, else the default", () =>
    Effect.gen(function*() {
      const clientWith = (settings: Pick<ClientCredentialsClient.Input, "defaultLifetime" | "expirationBuffer">) =>
        ClientCredentialsClient.make({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          clientSecret: Redacted.make("secret"),
          ...settings
        }, "worker")
      const service = { defaultLifetime: "7 minutes", expirationBuffer: "3 minutes" } as const
      const own = yield* clientWith({ defaultLifetime: "20 minutes", expirationBuffer: "2 minutes" })
      const plain = yield* clientWith({})
      const settingsOf = ({ defaultLifetime, expirationBuffer }: Lifetime) => [defaultLifetime, expirationBuffer]
      assert.deepStrictEqual(settingsOf(lifetimeOf(service, own)), [1_200_000, 120_000])
      assert.deepStrictEqual(settingsOf(lifetimeOf({}, own)), [1_200_000, 120_000])
      assert.deepStrictEqual(settingsOf(lifetimeOf(service, plain)), [420_000, 180_000])
      assert.deepStrictEqual(settingsOf(lifetimeOf({}, plain)), [
        Duration.toMillis(TokenLifetime.defaultLifetime),
        Duration.toMillis(TokenLifetime.defaultExpirationBuffer)
      ])
      assert.deepStrictEqual(lifetimeOf({ refreshWindow: { fraction: 0.5 } }, plain).refreshWindow, { fraction: 0.5 })
      assert.deepStrictEqual(lifetimeOf({}, plain).refreshWindow, TokenLifetime.defaultRefreshWindow)
    }))
})

describe("isFresh", () => {
  it("takes a shared token for a forced renewal only if it was requested since the renewal began", () => {
    fc.assert(
      fc.property(
        settings,
        epoch,
        fc.integer({ min: 1000, max: 86_400_000 }),
        fc.integer({ min: -1000, max: 1000 }),
        (lifetime: Lifetime, receivedAt, expiresIn, offset) => {
          const shared = token(receivedAt, expiresIn)
          const { refreshAt, staleAt } = timed(lifetime, shared)
          const now = receivedAt
          const startedAt = receivedAt + offset
          assert.strictEqual(isFresh(lifetime, shared, "acquire", startedAt, now), staleAt > now)
          assert.strictEqual(isFresh(lifetime, shared, "refresh", startedAt, now), refreshAt > now)
          assert.strictEqual(isFresh(lifetime, shared, "force", startedAt, now), offset <= 0 && staleAt > now)
        }
      ),
      runs
    )
  })
})
