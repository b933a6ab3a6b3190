// @ts-nocheck
import * as Effect from "effect/Effect"
import type * as Oidc from "oidc-provider"

const isProviderNotice = (args: ReadonlyArray<unknown>): boolean =>
  typeof args[0] === "string" && /oidc-provider (NOTICE|WARNING):/.test(args[0])

const muteProviderNotices = (): () => void => {
  const { info, warn } = console
  console.info = (...args: Array<unknown>) => isProviderNotice(args) ? undefined : info.apply(console, args)
  console.warn = (...args: Array<unknown>) => isProviderNotice(args) ? undefined : warn.apply(console, args)
  return () => {
    console.info = info
    console.warn = warn
  }
}

/**
 * Runs `f` while oidc-provider's notices ("oidc-provider WARNING: ...", "oidc-provider NOTICE: ...")
 * are dropped; everything else still reaches the console.
 *
 * @internal
 */
export const quietly = <A>(f: () => A): A => {
  const restore = muteProviderNotices()
  try {
    return f()
  } finally {
    restore()
  }
}

let loaded: Promise<typeof Oidc> | undefined

// oidc-provider warns about the Node.js release ("Unsupported runtime") while its module is
// evaluated, so a static import would print on every run on Node 20: it is imported lazily, once,
// with its notices muted.
const importQuietly = async (): Promise<typeof Oidc> => {
  const restore = muteProviderNotices()
  try {
    return await import("oidc-provider")
  } finally {
    restore()
  }
}

/**
 * The oidc-provider module, imported on first use without printing anything.
 *
 * @internal
 */
export const oidcProvider: Effect.Effect<typeof Oidc> = Effect.promise(() => loaded ??= importQuietly())

/**
 * A process-local storage for oidc-provider's stateful models. Supplying one also keeps
 * oidc-provider from warning about its own development-only adapter. JWT access tokens are
 * stateless, so little is ever stored here.
 *
 * @internal
 */
export const memoryAdapter = (): Oidc.AdapterFactory => {
  const entries = new Map<string, { readonly payload: Oidc.AdapterPayload; readonly expiresAt: number }>()
  return (model) => {
    const keyOf = (id: string) => `${model}:${id}`
    const find = (id: string): Oidc.AdapterPayload | undefined => {
      const entry = entries.get(keyOf(id))
      if (entry === undefined) return undefined
      if (entry.expiresAt <= Date.now()) {
        entries.delete(keyOf(id))
        return undefined
      }
      return entry.payload
    }
    const findBy = (field: "uid" | "userCode", value: string): Oidc.AdapterPayload | undefined => {
      for (const [key, entry] of entries) {
        if (key.startsWith(`${model}:`) && entry.payload[field] === value) return entry.payload
      }
      return undefined
    }
    return {
      upsert: async (id, payload, expiresIn) => {
        const expiresAt = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000
        entries.set(keyOf(id), { payload, expiresAt })
      },
      find: async (id) => find(id),
      findByUid: async (uid) => findBy("uid", uid),
      findByUserCode: async (userCode) => findBy("userCode", userCode),
      consume: async (id) => {
        const payload = find(id)
        if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000)
      },
      destroy: async (id) => {
        entries.delete(keyOf(id))
      },
      revokeByGrantId: async (grantId) => {
        for (const [key, entry] of entries) {
          if (entry.payload.grantId === grantId) entries.delete(key)
        }
      }
    }
  }
}
