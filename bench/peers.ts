/**
 * Scenario 5, peers: the same token server and the same API process for everyone. Requests/s at
 * concurrency 1 and 64 with a token already cached, and token requests under a cold 10,000-request
 * herd, for
 *
 * - global `fetch` with a static header (the everyday baseline, no token management at all);
 * - `@badgateway/oauth2-client`: `OAuth2Fetch` over `OAuth2Client.clientCredentials()`;
 * - `openid-client` v6: `clientCredentialsGrant` with the cache a user would hand-write (one
 *   promise, reused until expiry), and `fetch`;
 * - ours: `AccessTokenHttpClient` on `NodeHttpClient.layerUndici`.
 */
import { AccessTokenHttpClient } from "@access-token/platform"
import { TokenServer } from "@access-token/testing"
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import * as OpenId from "openid-client"
import { spawnApi } from "./lib/apiProcess.js"
import { getStatus } from "./lib/fixtures.js"
import { pairwise, ratios, repetitions, sampleMs } from "./lib/interleave.js"
import { loadAsync, loadEffect, type LoadResult, p99, requestsPerSecond } from "./lib/load.js"
import { clientOf, tokenService } from "./lib/servers.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const concurrencies = [1, 64] as const
// Shorter samples, twice as many: pairs measured closer together share more of the machine's noise.
const reps = 2 * repetitions
const durationMs = (2 * sampleMs) / 5
const herdSize = 10_000
/** The naive cache would send one token request per request: its herd is kept small. */
const naiveHerdSize = 500

type Key = "fetch" | "badgateway" | "openid" | "ours" | "oursUntraced"

/** One way of calling the API with a token: `send` answers the HTTP status. */
interface Peer {
  readonly load: (concurrency: number) => Effect.Effect<LoadResult>
  readonly send: Effect.Effect<number>
}

interface Settings {
  readonly tokenEndpoint: string
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  readonly url: string
}

const fromPromise = (send: () => Promise<number>): Peer => ({
  load: (concurrency) => Effect.promise(() => loadAsync(send, { concurrency, durationMs })),
  send: Effect.promise(() => send().catch(() => 0))
})

const statusOf = async (response: Response): Promise<number> => {
  await response.arrayBuffer()
  return response.status
}

/** Global `fetch` with a header fixed once: a token fetched by hand, never renewed. */
const staticFetch = async (settings: Settings): Promise<Peer> => {
  const response = await fetch(settings.tokenEndpoint, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${settings.clientId}:${settings.clientSecret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded"
    },
    body: "grant_type=client_credentials&scope=api"
  })
  const { access_token } = (await response.json()) as { access_token: string }
  const headers = { authorization: `Bearer ${access_token}` }
  return fromPromise(() => fetch(settings.url, { headers }).then(statusOf))
}

/** `@badgateway/oauth2-client`'s fetch wrapper, as its README sets it up for client credentials. */
const badgateway = (settings: Settings): Peer => {
  const client = new OAuth2Client({
    tokenEndpoint: settings.tokenEndpoint,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    authenticationMethod: "client_secret_basic"
  })
  const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials({ scope: ["api"] }) })
  return fromPromise(() => wrapper.fetch(settings.url).then(statusOf))
}

const openIdConfiguration = (settings: Settings) => {
  const configuration = new OpenId.Configuration(
    { issuer: settings.issuer, token_endpoint: settings.tokenEndpoint },
    settings.clientId,
    settings.clientSecret,
    OpenId.ClientSecretBasic(settings.clientSecret)
  )
  // The embedded server is plain http on loopback.
  OpenId.allowInsecureRequests(configuration)
  return configuration
}

/**
 * `openid-client` with the cache a user would write by hand: one promise for the token, reused
 * until a minute before `expires_in` runs out, forgotten when it fails.
 */
const openId = (settings: Settings): Peer => {
  const configuration = openIdConfiguration(settings)
  let token: Promise<string> | undefined
  let expiresAt = 0
  const authorization = () => {
    if (token === undefined || Date.now() >= expiresAt) {
      expiresAt = Number.POSITIVE_INFINITY
      token = OpenId.clientCredentialsGrant(configuration, { scope: "api" }).then(
        (response) => {
          expiresAt = Date.now() + ((response.expires_in ?? 300) - 60) * 1000
          return `Bearer ${response.access_token}`
        },
        (error: unknown) => {
          token = undefined
          throw error
        }
      )
    }
    return token
  }
  return fromPromise(async () =>
    statusOf(await fetch(settings.url, { headers: { authorization: await authorization() } }))
  )
}

/** `openid-client` with the cache most often written first: the token is stored once it has arrived. */
const openIdNaive = (settings: Settings): Peer => {
  const configuration = openIdConfiguration(settings)
  let token: { readonly authorization: string; readonly expiresAt: number } | undefined
  const authorization = async () => {
    if (token === undefined || Date.now() >= token.expiresAt) {
      const response = await OpenId.clientCredentialsGrant(configuration, { scope: "api" })
      token = {
        authorization: `Bearer ${response.access_token}`,
        expiresAt: Date.now() + ((response.expires_in ?? 300) - 60) * 1000
      }
    }
    return token.authorization
  }
  return fromPromise(async () =>
    statusOf(await fetch(settings.url, { headers: { authorization: await authorization() } }))
  )
}

/** Ours, on its own undici agent, for the length of the scope. */
const ours = (server: TokenServer.TokenServer.Service, url: string): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tokens = yield* tokenService({ clients: { api: clientOf(server) } })
    const http = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
    const send = getStatus(AccessTokenHttpClient.make(http, tokens, { client: "api" }), url).pipe(
      Effect.catchAllCause(() => Effect.succeed(0))
    )
    return { load: (concurrency) => loadEffect(send, { concurrency, durationMs }), send }
  })

/** A peer run with Effect's tracer disabled: no span per request. */
const untraced = (peer: Peer): Peer => ({
  load: (concurrency) => Effect.withTracerEnabled(peer.load(concurrency), false),
  send: Effect.withTracerEnabled(peer.send, false)
})

interface Herd {
  readonly tokenRequests: number
  readonly firstMs: number
  readonly lastMs: number
  readonly failures: number
}

/** `size` requests at once from a peer that has no token yet. */
const herd = (server: TokenServer.TokenServer.Service, peer: Peer, size: number): Effect.Effect<Herd> =>
  Effect.gen(function*() {
    const before = yield* server.tokenRequestCount
    const startedAt = performance.now()
    let first = Number.POSITIVE_INFINITY
    let last = 0
    let failures = 0
    yield* Effect.forEach(
      Array.from({ length: size }),
      () =>
        Effect.map(peer.send, (status) => {
          const at = performance.now() - startedAt
          first = Math.min(first, at)
          last = Math.max(last, at)
          if (status !== 200) failures++
        }),
      { concurrency: "unbounded", discard: true }
    )
    return { tokenRequests: (yield* server.tokenRequestCount) - before, firstMs: first, lastMs: last, failures }
  })

const labels: Record<Key, string> = {
  fetch: "global `fetch`, static header (baseline)",
  badgateway: "`@badgateway/oauth2-client` `OAuth2Fetch`",
  openid: "`openid-client` + hand-written promise cache",
  ours: "ours: `AccessTokenHttpClient` on undici",
  oursUntraced: "ours, Effect tracing off"
}

export const run = Effect.gen(function*() {
  const server = yield* TokenServer.make()
  const api = yield* spawnApi({
    API_JWKS_URI: server.jwksUri,
    API_ISSUER: server.issuer,
    API_AUDIENCE: server.resource
  })
  const [client] = server.clients
  const settings: Settings = {
    tokenEndpoint: server.tokenEndpoint,
    issuer: server.issuer,
    clientId: client.clientId,
    clientSecret: Redacted.value(client.clientSecret),
    url: api.testUrl
  }

  // Throughput, every peer with its token already cached.
  const oursPeer = yield* ours(server, api.testUrl)
  const peers: Record<Key, Peer> = {
    fetch: yield* Effect.promise(() => staticFetch(settings)),
    badgateway: badgateway(settings),
    openid: openId(settings),
    ours: oursPeer,
    oursUntraced: untraced(oursPeer)
  }
  const keys = Object.keys(labels) as Array<Key>
  for (const key of keys) yield* peers[key].send
  // Each peer back to back with the baseline, alternating the order: ratios of samples moments apart.
  const challengers = keys.filter((key) => key !== "fetch")
  const pairs = challengers.map((key) => ["fetch", key] as const)
  const throughput = {} as Record<number, Record<Key, Array<LoadResult>>>
  const toFetch = {} as Record<number, Record<Key, Array<number>>>
  for (const concurrency of concurrencies) {
    const runs = {} as Record<Key, Effect.Effect<LoadResult>>
    for (const key of keys) runs[key] = peers[key].load(concurrency)
    const results = yield* pairwise(runs, pairs, { reps })
    throughput[concurrency] = results.samples
    toFetch[concurrency] = { fetch: [1] } as Record<Key, Array<number>>
    challengers.forEach((key, i) => {
      const pair = results.pairs[i]
      toFetch[concurrency][key] = ratios(pair.variant.map(requestsPerSecond), pair.baseline.map(requestsPerSecond))
    })
  }
  yield* api.closeIdle

  // Herds, each peer new, with nothing cached (tracing makes no difference to the token requests).
  const herds = {} as Record<Key, Herd | undefined>
  const fresh: Partial<Record<Key, Effect.Effect<Peer, never, Scope.Scope>>> = {
    fetch: Effect.promise(() => staticFetch(settings)),
    badgateway: Effect.sync(() => badgateway(settings)),
    openid: Effect.sync(() => openId(settings)),
    ours: ours(server, api.testUrl)
  }
  for (const key of Object.keys(fresh) as Array<Key>) {
    herds[key] = yield* Effect.scoped(Effect.flatMap(fresh[key]!, (peer) => herd(server, peer, herdSize)))
    yield* api.closeIdle
  }
  const naive = yield* herd(server, openIdNaive(settings), naiveHerdSize)
  yield* api.closeIdle

  const cells = (key: Key, concurrency: number) => [
    spread(throughput[concurrency][key].map(requestsPerSecond)),
    key === "fetch" ? "1" : spread(toFetch[concurrency][key], 2)
  ]
  // Peers are compared through their ratios to the baseline, each measured side by side with it.
  const relative = (key: Key, concurrency: number) => median(toFetch[concurrency][key])
  const others: ReadonlyArray<Key> = ["fetch", "badgateway", "openid"]
  const ahead = (key: Key) =>
    concurrencies.every((concurrency) =>
      others.every((other) => relative(key, concurrency) > relative(other, concurrency))
    )
  const onlyOne = others.filter((key) => herds[key]?.tokenRequests === 1)
  const rows = keys.map((key) => {
    const herd = herds[key]
    return [
      labels[key],
      ...cells(key, 1),
      ...cells(key, 64),
      spread(throughput[64][key].map(p99), 1),
      herd === undefined ? "(as above)" : key === "fetch" ? "– (token fetched beforehand)" : fmt(herd.tokenRequests),
      herd === undefined ? "" : fmt(herd.firstMs),
      herd === undefined ? "" : fmt(herd.lastMs),
      String(
        throughput[1][key].concat(throughput[64][key]).reduce((sum, sample) => sum + sample.failures, 0) +
          (herd?.failures ?? 0)
      )
    ]
  })
  rows.push([
    `\`openid-client\` + cache stored after \`await\` (herd of ${fmt(naiveHerdSize)} only)`,
    "",
    "",
    "",
    "",
    "",
    fmt(naive.tokenRequests),
    fmt(naive.firstMs),
    fmt(naive.lastMs),
    String(naive.failures)
  ])
  const stats = yield* api.stats
  return table({
    title: "5. Peers: same token server, same API process, same run",
    columns: [
      "client",
      "req/s, c=1",
      "ratio to fetch",
      "req/s, c=64",
      "ratio to fetch",
      "p99 ms, c=64",
      `token requests, herd of ${fmt(herdSize)}`,
      "herd first response ms",
      "herd last response ms",
      "failed"
    ],
    rows,
    notes: [
      `Throughput: median (min–max) of ${fmt(durationMs / 1000, 1)}-second samples; each peer ran back to back ` +
      `with the \`fetch\` baseline ${reps} times, in alternating order, and each ratio compares the two samples ` +
      `of one repetition (peers are ranked by these ratios). Herd: one cold run per peer, token requests counted by the token server. ` +
      `The API process verifies each JWT's ES256 signature once and caches it; it answered ${fmt(stats.requests)} ` +
      `requests, ${fmt(stats.unauthorized)} with 401. Ours ahead of every peer on throughput at both ` +
      `concurrencies: ${verdict(ahead("ours"))}. Exactly one token request under the herd: ours ${
        verdict(herds.ours?.tokenRequests === 1)
      }; among the peers, ${onlyOne.map((key) => labels[key]).join(" and ") || "none"} too.`
    ]
  })
}).pipe(Effect.scoped)
