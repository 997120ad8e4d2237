import { numericColumns, type Table } from "./tables.ts";

/** Aligned plain text: numbers right-aligned, names left-aligned. */
export function terminalTable(table: Table): string {
	const widths = table.headers.map((h, i) =>
		Math.max(h.length, ...table.rows.map((r) => (r[i] ?? "").length)),
	);
	const numeric = numericColumns(table);
	const line = (cells: readonly string[]) =>
		cells
			.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
			.join("  ")
			.trimEnd();
	return [
		table.title,
		line(table.headers),
		widths.map((w) => "-".repeat(w)).join("  "),
		...table.rows.map(line),
		...table.notes.map((n) => `  ${n}`),
	].join("\n");
}
