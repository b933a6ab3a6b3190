// @ts-nocheck
import Undici from "@effect/platform-node/Undici"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Jose from "jose"

/**
 * A `fetch` that trusts the given CA certificates (PEM) instead of the system's, for a test server
 * that reads another over HTTPS; its connections are closed with the scope.
 */
export const trustingFetch = (
  authorities: ReadonlyArray<string>
): Effect.Effect<Jose.FetchImplementation, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent({ connect: { ca: [...authorities] } })),
      (agent) => Effect.promise(() => agent.destroy())
    ),
    (agent) => (url, init) => {
      // Node's fetch takes an undici dispatcher beside the standard options.
      const options = { ...init, dispatcher: agent }
      return fetch(url, options)
    }
  )
