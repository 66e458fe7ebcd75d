/** Markdown formatting shared by the report tables. */
export const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Milliseconds: one decimal under 10. */
export const ms = (value: number): string => fmt(value, value < 10 ? 1 : 0);

/** A per-unit cost with two decimals, or – where it was not measured. */
export const cost = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined ? '–' : fmt(value, digits);

/**
 * A Markdown table. A column title ending in `>` is right-aligned (numbers), the `>` is dropped.
 */
export function table(columns: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const titles = columns.map((column) => column.replace(/>$/, ''));
  const aligns = columns.map((column) => (column.endsWith('>') ? '---:' : '---'));
  return [
    `| ${titles.join(' | ')} |`,
    `| ${aligns.join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
