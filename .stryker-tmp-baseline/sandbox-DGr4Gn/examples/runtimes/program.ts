/**
 * A small worker for runtimes other than Node: Bun and Deno run it with `FetchHttpClient` (no
 * Node module is imported, by it or by `@access-token/core` and `@access-token/platform`). It asks
 * the API twice through an authenticated client and prints what it saw as one JSON line.
 *
 *     TOKEN_ENDPOINT=... CLIENT_ID=... CLIENT_SECRET=... API_BASE_URL=... bun run examples/runtimes/program.ts
 *     ... deno run --allow-net --allow-env --allow-read examples/runtimes/program.ts
 *
 * `examples/test/runtimes.test.ts` runs it on both against the embedded token server and API.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { Config, Effect, Layer } from "effect"

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node"

const ApiLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const apiBaseUrl = yield* Config.string("API_BASE_URL")
    const tokens = TokenService.layerConfigDefault({ clients: { api: ClientCredentialsClient.config() } })
    return AccessTokenHttpClient.layer({ baseUrl: apiBaseUrl }).pipe(
      Layer.provideMerge(tokens),
      Layer.provide(FetchHttpClient.layer)
    )
  })
)

const program = Effect.gen(function*() {
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
  const first = yield* client.get("test").pipe(Effect.flatMap((response) => response.json))
  // The second call reuses the cached token.
  const second = yield* client.get("test").pipe(Effect.flatMap((response) => response.json))
  const token = yield* TokenService.getToken()
  return { runtime, first, second, tokenType: token.type, logged: String(token.value) }
})

const result = await Effect.runPromise(program.pipe(Effect.provide(ApiLive)))
console.log(JSON.stringify(result))
