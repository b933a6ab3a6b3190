/**
 * The part of the Reflect metadata API that `@peculiar/x509`'s dependency injection (tsyringe)
 * needs, installed only when no polyfill (`reflect-metadata`) is loaded: tsyringe refuses to load
 * without one, and this repository installs none. Metadata is kept per object, and looked up along
 * the prototype chain as the polyfills do.
 */
interface ReflectMetadata {
  getMetadata?: (key: unknown, target: object) => unknown
  getOwnMetadata?: (key: unknown, target: object) => unknown
  defineMetadata?: (key: unknown, value: unknown, target: object) => void
}

const reflect = Reflect as typeof Reflect & ReflectMetadata

if (reflect.getMetadata === undefined) {
  const store = new WeakMap<object, Map<unknown, unknown>>()
  const getOwnMetadata = (key: unknown, target: object): unknown => store.get(target)?.get(key)
  const getMetadata = (key: unknown, target: object): unknown => {
    for (let current: object | null = target; current !== null; current = Object.getPrototypeOf(current)) {
      const value = getOwnMetadata(key, current)
      if (value !== undefined) return value
    }
    return undefined
  }
  const defineMetadata = (key: unknown, value: unknown, target: object): void => {
    const entries = store.get(target) ?? new Map<unknown, unknown>()
    entries.set(key, value)
    store.set(target, entries)
  }
  Object.assign(reflect, { getMetadata, getOwnMetadata, defineMetadata })
}

export {}
