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
 * With `API_DPOP` set as well (`API_AUTHORIZATION` is then `DPoP <token>`), each request must also
 * carry a DPoP proof (RFC 9449) whose ES256 signature verifies with its embedded `jwk` and whose
 * `htm`, `htu`, `ath` and `jti` (never seen before) fit; with `API_DPOP_NONCE` too, the proof must
 * carry that nonce, which every answer hands out, or the answer is `401` `use_dpop_nonce`.
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

const dpop = process.env.API_DPOP !== undefined
const dpopNonce = process.env.API_DPOP_NONCE

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

const proofKeys = new Map<string, Crypto.KeyObject>()
const jtis = new Set<string>()
const expectedAth = expected === undefined
  ? ""
  : Crypto.createHash("sha256").update(expected.slice(expected.indexOf(" ") + 1)).digest("base64url")

/** Checks a DPoP proof as a resource server does; the answer's status on failure, or undefined. */
const checkProof = (proof: string | undefined, method: string, htu: string): "invalid" | "nonce" | undefined => {
  if (proof === undefined) return "invalid"
  const parts = proof.split(".")
  if (parts.length !== 3) return "invalid"
  const header = decodePart(parts[0]) as { typ?: string; alg?: string; jwk?: Crypto.JsonWebKey }
  if (header.typ !== "dpop+jwt" || header.alg !== "ES256" || header.jwk === undefined) return "invalid"
  const id = `${header.jwk.x}.${header.jwk.y}`
  let key = proofKeys.get(id)
  if (key === undefined) {
    key = Crypto.createPublicKey({ key: header.jwk, format: "jwk" })
    proofKeys.set(id, key)
  }
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`)
  const signature = Buffer.from(parts[2], "base64url")
  if (!Crypto.verify("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, signature)) return "invalid"
  const claims = decodePart(parts[1])
  if (claims.htm !== method || claims.htu !== htu || claims.ath !== expectedAth) return "invalid"
  if (typeof claims.jti !== "string" || jtis.has(claims.jti)) return "invalid"
  if (Math.abs(Date.now() / 1000 - Number(claims.iat)) > 60) return "invalid"
  if (dpopNonce !== undefined && claims.nonce !== dpopNonce) return "nonce"
  if (jtis.size >= 1_000_000) jtis.clear()
  jtis.add(claims.jti)
  return undefined
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
  if (expected !== undefined && dpop) {
    const nonce = dpopNonce === undefined ? {} : { "dpop-nonce": dpopNonce }
    const failure = authorization === expected
      ? checkProof(request.headers.dpop as string | undefined, request.method ?? "", `${origin}/test`)
      : "invalid"
    if (failure === undefined) return answer(response, 200, "ok", nonce)
    unauthorized++
    return answer(response, 401, "unauthorized", {
      ...nonce,
      "www-authenticate": `DPoP error="${failure === "nonce" ? "use_dpop_nonce" : "invalid_token"}"`
    })
  }
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

let origin = ""

server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  const address = server.address()
  origin = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === "object" && address !== null ? address.port : 0 })}\n`
  )
})

// The parent holds our stdin: when it goes away, so do we.
process.stdin.on("end", () => process.exit(0))
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
