/**
 * The token service's authorization server metadata, one document per issuer and reading (see
 * {@link MetadataCache.get}): retrieved once whatever the number of clients and fibers that ask,
 * kept, and refreshed in the background when it is due, so that once a document is known no token
 * request ever waits for metadata again.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type * as AuthorizationServerMetadata from "../AuthorizationServerMetadata.js"
import type { MetadataError } from "../AuthorizationServerMetadata.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import { certificateOf } from "../MutualTls.js"
import { targetOf } from "./discovery.js"
import type { Target } from "./tokenRequest.js"

/** How long a document is kept: the server's `max-age` within bounds, or a default when it gives none. */
export interface Lifetimes {
  readonly default: Duration.Duration
  readonly min: Duration.Duration
  readonly max: Duration.Duration
}

/** The lifetimes of a refresh interval, decoded once. */
export const lifetimesOf = (interval: AuthorizationServerMetadata.RefreshInterval): Lifetimes => {
  const min = Duration.decode(interval.minimum)
  const max = Duration.max(min, Duration.decode(interval.maximum))
  return { default: Duration.clamp(Duration.decode(interval.default), { minimum: min, maximum: max }), min, max }
}

interface Entry {
  current: AuthorizationServerMetadata.Discovered | undefined
  /** When `current` is due for a refresh. */
  refreshAt: number
  inflight: Deferred.Deferred<AuthorizationServerMetadata.Discovered, MetadataError> | undefined
  refreshing: boolean
}

/** The refresh point of a document retrieved at `now`: its `max-age` clamped to the bounds, or the default. */
export const refreshPoint = (
  discovered: AuthorizationServerMetadata.Discovered,
  lifetimes: Lifetimes,
  now: number
): number => {
  const maxAge = discovered.maxAge === undefined
    ? lifetimes.default
    : Duration.clamp(discovered.maxAge, { minimum: lifetimes.min, maximum: lifetimes.max })
  return now + Duration.toMillis(maxAge)
}

/** What a caller makes of a document, or why it cannot use it. */
export type Use<A> = (discovered: AuthorizationServerMetadata.Discovered) => Either.Either<A, MetadataError>

/** The metadata of each issuer, for the token service. */
export interface MetadataCache {
  /**
   * The document of `issuer`, as `use` makes it: the one held, at once, even when it is due for a
   * refresh (which then starts in the background); otherwise the one being retrieved, retrieved
   * once for all callers. A document `use` refuses is never kept: a failed first retrieval is not
   * remembered (the next caller tries again), and a refresh that `use` refuses is a failed refresh.
   *
   * `reading` names how `use` reads a document: callers of one issuer that read it alike (so accept
   * and refuse the same documents) share one document; each reading keeps the last document it
   * could use, so that a refresh one kind of client accepts never replaces another's good document
   * with one it cannot use.
   */
  readonly get: {
    (issuer: string): Effect.Effect<AuthorizationServerMetadata.Discovered, MetadataError>
    <A>(issuer: string, use: Use<A>, reading?: string): Effect.Effect<A, MetadataError>
  }
  /** How many issuers and readings the cache holds state for. */
  readonly size: () => number
}

/**
 * A metadata cache on `discover` (which retries on its own schedule), its retrievals and refreshes
 * running in `scope`, so that no caller's interruption cancels them for the others. It holds at
 * most `capacity` issuers and readings (as many as the service holds clients: a client has one
 * issuer and one reading), the least recently used dropped first: tenants with an issuer of their
 * own come and go, and an issuer dropped while a client still uses it is only retrieved again.
 */
export const make = (
  discover: AuthorizationServerMetadata.Discover,
  lifetimes: Lifetimes,
  scope: Scope.Scope,
  capacity: number = Number.POSITIVE_INFINITY
): MetadataCache => {
  // By reading and issuer, in order of use, the least recently used first.
  const entries = new Map<string, Entry>()

  /** Makes room for one more, dropping the least recently used entries that no retrieval is using. */
  const evict = () => {
    for (const [key, entry] of entries) {
      if (entries.size < capacity) return
      if (entry.inflight === undefined && !entry.refreshing) entries.delete(key)
    }
  }

  const entryOf = (issuer: string, reading: string): Entry => {
    // No reading holds a space, so the key is unambiguous whatever the issuer.
    const key = `${reading} ${issuer}`
    let entry = entries.get(key)
    if (entry !== undefined) {
      entries.delete(key)
    } else {
      // Stryker disable next-line ConditionalExpression: evict returns at once below capacity; the test spares the call
      if (entries.size >= capacity) evict()
      // Stryker disable next-line ObjectLiteral: an empty entry reads alike (undefined or falsy; refreshAt read once kept)
      entry = { current: undefined, refreshAt: 0, inflight: undefined, refreshing: false }
    }
    entries.set(key, entry)
    return entry
  }

  const keep = (entry: Entry, discovered: AuthorizationServerMetadata.Discovered) =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        entry.current = discovered
        entry.refreshAt = refreshPoint(discovered, lifetimes, clock.unsafeCurrentTimeMillis())
      })
    )

  /**
   * Joins the retrieval under way for `issuer`, or starts one in the scope, which keeps its document
   * when the caller that started it can use it.
   */
  const retrieve = (issuer: string, entry: Entry, use: Use<unknown>) =>
    Effect.uninterruptible(Effect.suspend(() => {
      if (entry.inflight !== undefined) return Effect.succeed(entry.inflight)
      const deferred = Deferred.unsafeMake<AuthorizationServerMetadata.Discovered, MetadataError>(FiberId.none)
      entry.inflight = deferred
      return discover(issuer).pipe(
        Effect.interruptible,
        Effect.tap((discovered) => Either.isRight(use(discovered)) ? keep(entry, discovered) : Effect.void),
        Effect.exit,
        Effect.flatMap((exit) => {
          entry.inflight = undefined
          return Deferred.done(deferred, exit)
        }),
        Effect.forkIn(scope),
        Effect.as(deferred)
      )
    })).pipe(Effect.flatMap(Deferred.await))

  /**
   * Retrieves the document again while callers keep the one held. A failure, or a document the
   * caller that started the refresh cannot use (no token endpoint, plain http), keeps the last good
   * document and tries again after the shortest lifetime, so a server that is down is not flooded
   * and one that is fixed is found soon.
   */
  const refresh = (issuer: string, entry: Entry, use: Use<unknown>): Effect.Effect<void> =>
    // Uninterruptible from marking the entry to forking the refresh: a caller interrupted in
    // between would leave `refreshing` set with no refresh to clear it.
    Effect.uninterruptible(Effect.suspend(() => {
      // Stryker disable next-line ConditionalExpression: a retrieval under way holds no due document to refresh
      if (entry.refreshing || entry.inflight !== undefined) return Effect.void
      entry.refreshing = true
      return discover(issuer).pipe(
        Effect.flatMap((discovered) =>
          Either.match(use(discovered), { onLeft: Effect.fail, onRight: () => keep(entry, discovered) })
        ),
        Effect.catchAll((error) =>
          Effect.clockWith((clock) => {
            entry.refreshAt = clock.unsafeCurrentTimeMillis() + Duration.toMillis(lifetimes.min)
            return Effect.logWarning(
              `Refreshing the authorization server metadata failed: ${error.message}; the last good document is kept`
            ).pipe(Effect.annotateLogs({ issuer }))
          })
        ),
        Effect.ensuring(Effect.sync(() => {
          entry.refreshing = false
        })),
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.asVoid
      )
    }))

  const get = <A>(issuer: string, use: Use<A>, reading: string): Effect.Effect<A, MetadataError> =>
    Effect.clockWith((clock) => {
      const entry = entryOf(issuer, reading)
      const current = entry.current
      if (current === undefined) return Effect.flatMap(retrieve(issuer, entry, use), use)
      return clock.unsafeCurrentTimeMillis() < entry.refreshAt
        ? use(current)
        : Effect.zipRight(refresh(issuer, entry, use), use(current))
    })

  return {
    // Stryker disable next-line StringLiteral: the default reading only has to differ from those of `readingOf`
    get: <A>(issuer: string, use?: Use<A>, reading = "any") => get(issuer, use ?? (Either.right as Use<A>), reading),
    size: () => entries.size
  }
}

const noTarget: Effect.Effect<undefined> = Effect.succeed(undefined)

/**
 * How {@link targetOf} reads a document for `client`, the only parts of the client it looks at: the
 * mTLS alias of the token endpoint for a certificate client, and whether plain http is allowed.
 */
const readingOf = (client: ClientCredentialsClient.ClientCredentialsClient): string =>
  // Stryker disable next-line EqualityOperator,StringLiteral: readings are only told apart; any 4 distinct names do
  `${certificateOf(client) === undefined ? "token_endpoint" : "mtls"}${client.allowInsecureTransport ? "+http" : ""}`

/**
 * Where each client's token requests go: for a client configured by issuer, the token endpoint of
 * the issuer's metadata as `cache` holds it for clients that read it as this one does; for any
 * other, nothing to add to its definition.
 */
export const targets = (cache: MetadataCache) =>
(
  client: ClientCredentialsClient.ClientCredentialsClient
): Effect.Effect<Target | undefined, MetadataError> => {
  const issuer = client.issuer
  if (issuer === undefined) return noTarget
  return cache.get(issuer, (discovered) => targetOf(client, issuer, discovered), readingOf(client))
}
