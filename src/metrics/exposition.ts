/**
 * Prometheus' text exposition format, version 0.0.4: the escaping and number spelling its parser
 * expects. Everything here runs when a series is created or scraped, never per request.
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type MetricType = "counter" | "gauge" | "histogram";

/** Throws at startup for a name Prometheus would reject, so a typo never reaches a scrape. */
export function checkMetricName(name: string): void {
	if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
}

export function checkLabelName(name: string): void {
	// Names starting with "__" are reserved for Prometheus itself.
	if (!LABEL_NAME.test(name) || name.startsWith("__")) {
		throw new Error(`invalid label name ${JSON.stringify(name)}`);
	}
}

/** Label values: backslash, double quote and line feed are the three characters escaped. */
export const escapeLabelValue = (value: string): string =>
	value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));

/** HELP text: backslash and line feed are escaped; a double quote is not. */
export const escapeHelp = (text: string): string =>
	text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));

/** `{a="x",b="y"}`, or "" without labels. */
export function labelSet(names: readonly string[], values: readonly string[]): string {
	if (names.length !== values.length) {
		throw new Error(`expected ${names.length} label value(s), got ${values.length}`);
	}
	if (names.length === 0) return "";
	return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i] as string)}"`).join(",")}}`;
}

/** A sample value as Go's ParseFloat reads it: "+Inf", "-Inf", "NaN", or JavaScript's spelling. */
export function formatValue(value: number): string {
	if (Number.isNaN(value)) return "NaN";
	if (value === Number.POSITIVE_INFINITY) return "+Inf";
	if (value === Number.NEGATIVE_INFINITY) return "-Inf";
	return String(value);
}

/** The two comment lines that open a metric family. */
export const familyHeader = (name: string, help: string, type: MetricType): string =>
	`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
