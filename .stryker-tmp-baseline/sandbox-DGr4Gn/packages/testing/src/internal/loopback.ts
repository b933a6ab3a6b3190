// @ts-nocheck
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo, Socket } from "node:net"
import type { TLSSocket } from "node:tls"
import type * as LoopbackServer from "../LoopbackServer.js"

const host = "127.0.0.1"

const createServer = (options: LoopbackServer.Options): Http.Server => {
  const tls = options.tls
  if (tls === undefined) return Http.createServer()
  const privateKey = Redacted.isRedacted(tls.privateKey) ? Redacted.value(tls.privateKey) : tls.privateKey
  const authorities = tls.clientCertificates?.authorities
  return Https.createServer({
    cert: tls.certificate,
    key: privateKey,
    ...(authorities === undefined ? {} : {
      // Every certificate is let through the handshake, trusted or not: RFC 8705 leaves the verdict
      // to the application (a self-signed certificate is checked against the client's registered
      // keys), and a client without one must get an OAuth 2.0 error rather than a reset.
      requestCert: true,
      rejectUnauthorized: false,
      ca: [...authorities]
    })
  })
}

const listenOn = (server: Http.Server, port: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const onError = (error: Error) => resume(Effect.die(error))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })

/** @internal */
export const listen = (
  options: LoopbackServer.Options = {}
): Effect.Effect<LoopbackServer.Listening, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = createServer(options)
    // Tracked here rather than with `closeAllConnections`, which misses connections that have not
    // sent a complete request yet, such as one in the middle of a TLS handshake.
    const sockets = new Set<Socket>()
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    const close = Effect.async<void>((resume) => {
      if (server.listening) server.close(() => resume(Effect.void))
      else resume(Effect.void)
      for (const socket of sockets) socket.destroy()
    })
    yield* Effect.acquireRelease(listenOn(server, 0), () => close)
    const port = (server.address() as AddressInfo).port
    return {
      origin: `${options.tls === undefined ? "http" : "https"}://${host}:${port}`,
      port,
      server,
      refuse: close,
      accept: Effect.suspend(() => server.listening ? Effect.void : listenOn(server, port))
    }
  })

/** @internal */
export const pathnameOf = (request: Http.IncomingMessage): string => {
  const url = URL.parse(request.url ?? "/", `http://${host}`)
  return url === null ? "" : url.pathname
}

/** @internal */
export const thumbprintOf = (der: Uint8Array): string => crypto.createHash("sha256").update(der).digest("base64url")

/** @internal */
export const clientCertificateOf = (
  request: Http.IncomingMessage
): LoopbackServer.ClientCertificate | undefined => {
  const socket = request.socket as Partial<TLSSocket>
  const certificate = socket.getPeerX509Certificate?.()
  if (certificate === undefined) return undefined
  return {
    pem: certificate.toString(),
    thumbprint: thumbprintOf(certificate.raw),
    authorized: socket.authorized === true
  }
}

/** @internal */
export const make = (
  handler: LoopbackServer.Handler,
  options?: LoopbackServer.Options
): Effect.Effect<LoopbackServer.LoopbackServer, never, Scope.Scope> =>
  Effect.map(listen(options), (listening) => {
    const requests: Array<LoopbackServer.ReceivedRequest> = []
    listening.server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const received: LoopbackServer.ReceivedRequest = {
          method: request.method ?? "",
          url: request.url ?? "",
          path: pathnameOf(request),
          headers: request.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          clientCertificate: clientCertificateOf(request)
        }
        handler(received, response, requests.push(received))
      })
    })
    return { ...listening, requests }
  })
