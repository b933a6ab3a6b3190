/**
 * The API the benchmarks call, run in a process of its own so that answering requests does not
 * share the event loop (or the CPU time) of the client being measured. It listens on 127.0.0.1
 * with keep-alive, prints `{"port":N}` on stdout, and exits when its parent closes stdin.
 *
 * `GET /test` answers `200 ok` to an accepted `Authorization` header and `401` to anything else:
 *
 * - with `API_AUTHORIZATION` set, exactly that header value is accepted;
 * - with `API_JWKS_URI`, `API_ISSUER` and `API_AUDIENCE` set, an ES256 JWT access token of that
 *   issuer and audience is accepted until its `exp`. Each token's signature is verified once and
 *   remembered, as a resource server caching validated tokens does, so the API stays cheap and
 *   the client's cost dominates the measurement.
 *
 * `GET /stats` answers `{ requests, unauthorized }`; `POST /close-idle` closes idle keep-alive
 * connections, so that one herd's ten thousand sockets are not left for the next.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"

const expected = process.env.API_AUTHORIZATION
const jwksUri = process.env.API_JWKS_URI
const issuer = process.env.API_ISSUER
const audience = process.env.API_AUDIENCE

let requests = 0
let unauthorized = 0

const keys = new Map<string, Crypto.KeyObject>()
const verified = new Map<string, number>()

const loadKeys = async (): Promise<void> => {
  const response = await fetch(jwksUri!)
  const jwks = (await response.json()) as { keys: Array<Crypto.JsonWebKey & { kid: string }> }
  for (const jwk of jwks.keys) keys.set(jwk.kid, Crypto.createPublicKey({ key: jwk, format: "jwk" }))
}

const decodePart = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, "base64url").toString())

/** The expiry in ms of a valid access token, or undefined. */
const verify = async (token: string): Promise<number | undefined> => {
  const parts = token.split(".")
  if (parts.length !== 3) return undefined
  const header = decodePart(parts[0])
  if (header.alg !== "ES256" || header.typ !== "at+jwt" || typeof header.kid !== "string") return undefined
  if (!keys.has(header.kid)) await loadKeys()
  const key = keys.get(header.kid)
  if (key === undefined) return undefined
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`)
  const signature = Buffer.from(parts[2], "base64url")
  if (!Crypto.verify("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, signature)) return undefined
  const claims = decodePart(parts[1])
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  if (claims.iss !== issuer || !aud.includes(audience) || typeof claims.exp !== "number") return undefined
  return claims.exp * 1000
}

const isAccepted = async (authorization: string | undefined): Promise<boolean> => {
  if (authorization === undefined) return false
  if (expected !== undefined) return authorization === expected
  if (!authorization.startsWith("Bearer ")) return false
  const token = authorization.slice(7)
  let expiresAt = verified.get(token)
  if (expiresAt === undefined) {
    expiresAt = await verify(token)
    if (expiresAt === undefined) return false
    if (verified.size >= 10_000) verified.clear()
    verified.set(token, expiresAt)
  }
  return expiresAt > Date.now()
}

const answer = (
  response: Http.ServerResponse,
  status: number,
  body: string,
  headers: Http.OutgoingHttpHeaders = {}
) => {
  response.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), ...headers })
  response.end(body)
}

const server = Http.createServer((request, response) => {
  if (request.url === "/stats") return answer(response, 200, JSON.stringify({ requests, unauthorized }))
  if (request.url === "/close-idle") {
    answer(response, 200, "closing")
    setImmediate(() => server.closeIdleConnections())
    return
  }
  if (request.url !== "/test") return answer(response, 404, "not found")
  requests++
  const authorization = request.headers.authorization
  // The static check stays synchronous, as the cheapest possible API.
  if (expected !== undefined) {
    if (authorization === expected) return answer(response, 200, "ok")
    unauthorized++
    return answer(response, 401, "unauthorized", { "www-authenticate": "Bearer" })
  }
  isAccepted(authorization).then((accepted) => {
    if (accepted) return answer(response, 200, "ok")
    unauthorized++
    answer(response, 401, "unauthorized", { "www-authenticate": "Bearer error=\"invalid_token\"" })
  }, () => answer(response, 500, "error"))
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000

server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  const address = server.address()
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === "object" && address !== null ? address.port : 0 })}\n`
  )
})

// The parent holds our stdin: when it goes away, so do we.
process.stdin.on("end", () => process.exit(0))
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
