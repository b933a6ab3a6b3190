/**
 * Order statistics and the markdown tables every scenario prints.
 */

/** The `q` quantile (0..1) of ascending `sorted` values, nearest rank. */
export const quantile = (sorted: ArrayLike<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/** Ascending copy. */
export const sorted = (values: ArrayLike<number>): Float64Array => Float64Array.from(values).sort()

export const median = (values: ArrayLike<number>): number => {
  const s = sorted(values)
  if (s.length === 0) return Number.NaN
  const middle = s.length >> 1
  return s.length % 2 === 1 ? s[middle] : (s[middle - 1] + s[middle]) / 2
}

export const min = (values: ArrayLike<number>): number => Math.min(...Array.from(values))

export const max = (values: ArrayLike<number>): number => Math.max(...Array.from(values))

/** A number with `digits` significant decimals, thousands separated. */
export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "–"

/** `median (min–max)` of the repetitions. */
export const spread = (values: ArrayLike<number>, digits = 0): string =>
  values.length === 1
    ? fmt(values[0], digits)
    : `${fmt(median(values), digits)} (${fmt(min(values), digits)}–${fmt(max(values), digits)})`

/** A markdown table under a heading, with a note below it. */
export const table = (options: {
  readonly title: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly notes?: ReadonlyArray<string> | undefined
}): string => {
  const right = options.columns.map((_, i) => i > 0)
  const lines = [
    `### ${options.title}`,
    "",
    `| ${options.columns.join(" | ")} |`,
    `| ${right.map((r) => (r ? "---:" : "---")).join(" | ")} |`,
    ...options.rows.map((row) => `| ${row.join(" | ")} |`)
  ]
  if (options.notes !== undefined && options.notes.length > 0) lines.push("", ...options.notes)
  return lines.join("\n")
}

/** `ok` when the target holds, otherwise `missed`, for the table's verdict column. */
export const verdict = (ok: boolean): string => (ok ? "met" : "**missed**")
