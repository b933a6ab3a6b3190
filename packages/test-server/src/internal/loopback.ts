import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * An HTTP server listening on 127.0.0.1 on a port chosen by the system, without a request
 * handler yet: the caller needs the origin to configure the handler. Closing the scope closes
 * the server, keep-alive connections included, so the port is free again.
 *
 * @internal
 */
export const listen: Effect.Effect<{ readonly server: Http.Server; readonly origin: string }, never, Scope.Scope> =
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer()
      const onError = (error: Error) => resume(Effect.die(error))
      server.once("error", onError)
      server.listen(0, "127.0.0.1", () => {
        server.off("error", onError)
        resume(Effect.succeed(server))
      })
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(
    Effect.map((server) => ({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
  )

/** @internal */
export const pathnameOf = (request: Http.IncomingMessage): string => {
  const url = URL.parse(request.url ?? "/", "http://127.0.0.1")
  return url === null ? "" : url.pathname
}
