/**
 * The README's quick start, type-checked with the rest of the examples. It needs a real token
 * service and API to run; `worker.ts` is the same program against embedded ones.
 */
import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Redacted, Schedule } from "effect"

const Tokens = TokenService.layerDefault({
  clients: {
    api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("secret") }
  }
}).pipe(Layer.provide(NodeHttpClient.layerUndici))

const Api = AccessTokenHttpClient.layer({ baseUrl: "https://api.example.com/" }).pipe(
  Layer.provide([Tokens, NodeHttpClient.layerUndici])
)

const worker = Effect.gen(function*() {
  const response = yield* (yield* HttpClient.HttpClient).get("test")
  yield* Effect.log(`API response: ${yield* response.text}`)
}).pipe(Effect.repeat(Schedule.spaced("5 seconds")))

NodeRuntime.runMain(worker.pipe(Effect.provide(Api)))
