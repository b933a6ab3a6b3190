import {
  AccessToken,
  ClientCredentialsClient,
  LayerConfig,
  TokenCache,
  TokenEndpointClient,
  TokenService
} from "@access-token/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Config, ConfigProvider, DateTime, Duration, Effect, Layer, Redacted } from "effect"

const environment = ConfigProvider.fromMap(
  new Map([
    ["API_TOKEN_ENDPOINT", "https://auth.example.com/token"],
    ["API_CLIENT_ID", "worker"],
    ["API_CLIENT_SECRET", "s3cr3t"],
    ["EXPIRATION_BUFFER", "2 minutes"]
  ]),
  { pathDelim: "_" }
)

describe("LayerConfig", () => {
  it("takes a Config or a plain value for every option (compile-checked)", () => {
    interface Options {
      readonly flag?: boolean | undefined
      readonly nested: { readonly name: string; readonly count?: number | undefined }
      readonly run?: ((name: string) => number) | undefined
    }
    expectTypeOf({ flag: true, nested: { name: "a" } }).toMatchTypeOf<LayerConfig.Wrap<Options>>()
    expectTypeOf({ flag: Config.boolean("FLAG"), nested: Config.succeed({ name: "a" }) }).toMatchTypeOf<
      LayerConfig.Wrap<Options>
    >()
    expectTypeOf({ nested: { name: Config.string("NAME"), count: 3 }, run: (name: string) => name.length })
      .toMatchTypeOf<LayerConfig.Wrap<Options>>()
    expectTypeOf({ flag: "yes", nested: { name: "a" } }).not.toMatchTypeOf<LayerConfig.Wrap<Options>>()
    // The issue's own line: booleans beside a client read from the environment.
    TokenService.layerConfig({ clients: { api: ClientCredentialsClient.config("API") }, warmUp: true, failFast: true })
  })

  it.effect("takes an empty object, or one with an own __proto__ member, as it is", () =>
    Effect.gen(function*() {
      const options = yield* LayerConfig.unwrap<{
        readonly clientId: string
        readonly parameters: Readonly<Record<string, string>>
        readonly clients: Readonly<Record<string, unknown>>
      }>({ clientId: Config.string("API_CLIENT_ID"), parameters: {}, clients: {} })
      assert.deepStrictEqual(options, { clientId: "worker", parameters: {}, clients: {} })
      // As JSON.parse makes it: an own member named __proto__, which a copy by assignment loses.
      const parameters = JSON.parse(`{"__proto__":"x","tenant":"a"}`) as Record<string, string>
      const read = yield* LayerConfig.unwrap<{ readonly parameters: Readonly<Record<string, string>> }>({
        parameters
      })
      assert.strictEqual(read.parameters, parameters)
      assert.deepStrictEqual(Object.keys(read.parameters), ["__proto__", "tenant"])
    }).pipe(Effect.withConfigProvider(environment)))

  it.effect("reads Configs and lifts plain values, nested objects field by field", () =>
    Effect.gen(function*() {
      const run = (name: string) => name.length
      const options = yield* LayerConfig.unwrap<{
        readonly buffer: Duration.Duration
        readonly warmUp: boolean
        readonly client: { readonly clientId: string; readonly clientSecret: Redacted.Redacted }
        readonly resource: ReadonlyArray<string>
        readonly run: (name: string) => number
      }>({
        buffer: Config.duration("EXPIRATION_BUFFER"),
        warmUp: true,
        client: { clientId: Config.string("API_CLIENT_ID"), clientSecret: Redacted.make("plain") },
        resource: ["https://a.example.com", "https://b.example.com"],
        run
      })
      assert.isTrue(Duration.equals(options.buffer, Duration.minutes(2)))
      assert.isTrue(options.warmUp)
      assert.strictEqual(options.client.clientId, "worker")
      assert.strictEqual(Redacted.value(options.client.clientSecret), "plain")
      assert.deepStrictEqual(options.resource, ["https://a.example.com", "https://b.example.com"])
      assert.strictEqual(options.run, run)
    }).pipe(Effect.withConfigProvider(environment)))

  it.scoped("TokenService.layerConfig warms up with a plain warmUp beside a client from the environment", () => {
    let requests = 0
    const Endpoint = TokenEndpointClient.layerTest(() =>
      Effect.map(DateTime.now, (receivedAt) => {
        requests++
        return AccessToken.make({ value: "warm", receivedAt, expiresIn: "1 hour" })
      })
    )
    const Tokens = TokenService.layerConfig({
      clients: { api: ClientCredentialsClient.config("API") },
      warmUp: true,
      failFast: true,
      capacity: 10
    }).pipe(Layer.provide([Endpoint, TokenCache.layerMemory()]))
    return Effect.gen(function*() {
      const tokens = yield* TokenService.TokenService
      assert.deepStrictEqual(tokens.clients, ["api"])
      // Acquired while the layer was built: warmUp was read as true.
      assert.strictEqual(requests, 1)
      assert.strictEqual((yield* tokens.getToken("api")).authorization, "Bearer warm")
      assert.strictEqual(requests, 1)
    }).pipe(Effect.provide(Tokens), Effect.withConfigProvider(environment))
  })
})
