/**
 * Scenario 7, client authentication: what a signed client assertion costs next to a client secret.
 * First the per-attempt credentials step alone (a `Basic` header vs signing an assertion with each
 * key type), then whole token requests to the embedded `TokenServer` (oidc-provider, which verifies
 * every assertion and records its `jti`), each method beside `client_secret_basic`.
 */
import { ClientCredentialsClient, TokenEndpointClient } from "@access-token/core"
import { credentials } from "@access-token/core/internal/clientAuthentication"
import { TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { interleave, ratios } from "./lib/interleave.js"
import { fmt, spread, table } from "./lib/stats.js"

/** Credentials built per sample in the first table, token requests per sample in the second. */
const signs = 500
const requests = 40

const SECRET = "bench-secret-of-enough-length-for-hs256-0123456789"

type Key = "basic" | "hs256" | "es256" | "eddsa" | "rs256" | "ps256"

const labels: Record<Key, string> = {
  basic: "`client_secret_basic` (baseline)",
  hs256: "`client_secret_jwt`, HS256",
  es256: "`private_key_jwt`, ES256 (P-256)",
  eddsa: "`private_key_jwt`, EdDSA (Ed25519)",
  rs256: "`private_key_jwt`, RS256 (RSA 2048)",
  ps256: "`private_key_jwt`, PS256 (RSA 2048)"
}

const keyPairs = {
  es256: Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }),
  eddsa: Crypto.generateKeyPairSync("ed25519"),
  rs256: Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }),
  ps256: Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
} as const

const algorithms = { es256: "ES256", eddsa: "EdDSA", rs256: "RS256", ps256: "PS256" } as const

const pemOf = (pair: Crypto.KeyPairKeyObjectResult) =>
  pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string

/** Each method's client definition, addressed to `tokenEndpoint` (the assertion audience too). */
const inputs = (tokenEndpoint: string): Record<Key, ClientCredentialsClient.Input> => {
  const keyClient = (key: keyof typeof keyPairs): ClientCredentialsClient.Input => ({
    tokenEndpoint,
    clientId: key,
    authentication: {
      method: "private_key_jwt",
      privateKey: Redacted.make(pemOf(keyPairs[key])),
      algorithm: algorithms[key],
      audience: "tokenEndpoint"
    }
  })
  return {
    basic: { tokenEndpoint, clientId: "basic", clientSecret: Redacted.make(SECRET) },
    hs256: {
      tokenEndpoint,
      clientId: "hs256",
      clientSecret: Redacted.make(SECRET),
      authentication: { method: "client_secret_jwt", audience: "tokenEndpoint" }
    },
    es256: keyClient("es256"),
    eddsa: keyClient("eddsa"),
    rs256: keyClient("rs256"),
    ps256: keyClient("ps256")
  }
}

const keys = Object.keys(labels) as Array<Key>

export const run = Effect.gen(function*() {
  const server = yield* TokenServer.make({
    clients: keys.map((key) =>
      key === "basic" || key === "hs256"
        ? {
          clientId: key,
          clientSecret: SECRET,
          tokenEndpointAuthMethod: key === "basic" ? "client_secret_basic" as const : "client_secret_jwt" as const
        }
        : {
          clientId: key,
          tokenEndpointAuthMethod: "private_key_jwt" as const,
          tokenEndpointAuthSigningAlg: algorithms[key],
          jwks: { keys: [keyPairs[key].publicKey.export({ format: "jwk" }) as JsonWebKey] }
        }
    )
  })
  const clients = {} as Record<Key, ClientCredentialsClient.ClientCredentialsClient>
  for (const [key, input] of Object.entries(inputs(server.tokenEndpoint))) {
    clients[key as Key] = yield* ClientCredentialsClient.make(input, key)
  }

  // 1. The credentials step of one attempt, alone: µs per call.
  const target = { tokenEndpoint: server.tokenEndpoint }
  const signing = yield* interleave(keys.map((key) => ({
    key,
    run: Effect.gen(function*() {
      const startedAt = performance.now()
      for (let i = 0; i < signs; i++) yield* credentials(clients[key], target)
      return ((performance.now() - startedAt) * 1000) / signs
    })
  })))

  // 2. Whole token requests, one at a time, through the default endpoint client (no cache).
  const endpoint = yield* Layer.build(TokenEndpointClient.layer().pipe(Layer.provide(NodeHttpClient.layerUndici))).pipe(
    Effect.map(Context.get(TokenEndpointClient.TokenEndpointClient))
  )
  const requesting = yield* interleave(keys.map((key) => ({
    key,
    run: Effect.gen(function*() {
      const startedAt = performance.now()
      for (let i = 0; i < requests; i++) yield* endpoint.requestToken(clients[key])
      return (performance.now() - startedAt) / requests
    })
  })))

  const rows = keys.map((key) => [
    labels[key],
    spread(signing[key], 1),
    spread(ratios(signing[key], signing.basic), 1),
    spread(requesting[key], 2),
    spread(ratios(requesting[key], requesting.basic), 2),
    spread(requesting[key].map((ms) => 1000 / ms))
  ])
  return table({
    title: "7. Client authentication: a client assertion next to a client secret",
    columns: [
      "method",
      "credentials step µs",
      "ratio to basic",
      "token request ms",
      "ratio to basic",
      "token requests/s"
    ],
    rows,
    notes: [
      `The credentials step is what each attempt adds to its request (\`internal/clientAuthentication\` ` +
      `\`credentials\`): a \`Basic\` header, or an assertion signed with a fresh \`jti\`; ${fmt(signs)} calls ` +
      `per sample. A token request is \`TokenEndpointClient.requestToken\` to the embedded oidc-provider, ` +
      `which verifies each assertion and checks its \`jti\` for replays; ${requests} sequential requests per ` +
      `sample. Median (min–max) of the repetitions, variants interleaved; ratios are taken within a repetition.`
    ]
  })
}).pipe(Effect.scoped, Effect.orDie)
