/**
 * Test helpers for looking at what the cache stored. The Redis itself comes from
 * `@access-token/testing/RedisServer`.
 */
// @ts-nocheck

import { Duration, Effect } from "effect"
import { Redis } from "ioredis"

/** A plain ioredis client for looking at what the cache stored, closed with the scope. */
export const rawClient = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
  )

/** How long `effect` took, in milliseconds of real time. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timed(effect).pipe(Effect.map(([duration, value]) => [Duration.toMillis(duration), value] as const))
