import {
	checkLabelName,
	checkMetricName,
	familyHeader,
	formatValue,
	labelSet,
	type MetricType,
} from "./exposition.ts";

/**
 * Counters and histograms whose series are created up front (when the model ids and routes are
 * known) and then updated with a few number writes: recording allocates nothing, builds no
 * string and looks nothing up. Every label string is formatted once, when its series is created;
 * the text is assembled only when /metrics is scraped. Knows no framework and no runtime.
 */

interface Family {
	readonly name: string;
	/** The family's exposition text: HELP, TYPE and every sample line. */
	render(): string;
}

export class CounterSeries {
	value = 0;
	readonly line: string;

	constructor(line: string) {
		this.line = line;
	}

	inc(by = 1): void {
		this.value += by;
	}
}

export class Counter implements Family {
	readonly name: string;
	readonly #help: string;
	readonly #labelNames: readonly string[];
	readonly #series: CounterSeries[] = [];
	readonly #labelSets = new Set<string>();

	constructor(name: string, help: string, labelNames: readonly string[]) {
		checkMetricName(name);
		for (const label of labelNames) checkLabelName(label);
		this.name = name;
		this.#help = help;
		this.#labelNames = labelNames;
	}

	/** A new series for these label values, in the order of the label names; once per set. */
	series(...labelValues: string[]): CounterSeries {
		const labels = labelSet(this.#labelNames, labelValues);
		if (this.#labelSets.has(labels)) throw new Error(`${this.name}${labels} exists already`);
		this.#labelSets.add(labels);
		const series = new CounterSeries(`${this.name}${labels} `);
		this.#series.push(series);
		return series;
	}

	render(): string {
		let text = familyHeader(this.name, this.#help, "counter");
		for (const s of this.#series) text += `${s.line}${formatValue(s.value)}\n`;
		return text;
	}
}

export class HistogramSeries {
	/** Observations per bucket, not cumulative; the last slot holds those above every bound. */
	readonly counts: Float64Array;
	sum = 0;
	count = 0;
	/** Upper bounds shared by every series of the histogram. */
	readonly bounds: Float64Array;
	readonly lines: {
		readonly buckets: readonly string[];
		readonly sum: string;
		readonly count: string;
	};

	constructor(bounds: Float64Array, lines: HistogramSeries["lines"]) {
		this.bounds = bounds;
		this.counts = new Float64Array(bounds.length + 1);
		this.lines = lines;
	}

	observe(value: number): void {
		const bounds = this.bounds;
		// Most observations fall in the first few buckets: a linear scan beats a binary search.
		let i = 0;
		while (i < bounds.length && value > bounds[i]) i++;
		this.counts[i]++;
		this.sum += value;
		this.count++;
	}
}

export class Histogram implements Family {
	readonly name: string;
	readonly #help: string;
	readonly #labelNames: readonly string[];
	readonly #bounds: Float64Array;
	readonly #series: HistogramSeries[] = [];
	readonly #labelSets = new Set<string>();

	/** `buckets`: upper bounds, strictly increasing; +Inf is implied. */
	constructor(
		name: string,
		help: string,
		labelNames: readonly string[],
		buckets: readonly number[],
	) {
		checkMetricName(name);
		for (const label of labelNames) checkLabelName(label);
		if (labelNames.includes("le")) throw new Error(`${name}: "le" is the bucket label`);
		const increasing = buckets.every(
			(b, i) => Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)),
		);
		if (buckets.length === 0 || !increasing) {
			throw new Error(`${name}: buckets must be finite and strictly increasing`);
		}
		this.name = name;
		this.#help = help;
		this.#labelNames = labelNames;
		this.#bounds = Float64Array.from(buckets);
	}

	/** A new series for these label values, in the order of the label names; once per set. */
	series(...labelValues: string[]): HistogramSeries {
		const labels = labelSet(this.#labelNames, labelValues);
		if (this.#labelSets.has(labels)) throw new Error(`${this.name}${labels} exists already`);
		this.#labelSets.add(labels);
		// "le" goes last, as every Prometheus client writes it.
		const bucketLabels = (le: string) =>
			labelSet([...this.#labelNames, "le"], [...labelValues, le]);
		const les = [...Array.from(this.#bounds, formatValue), "+Inf"];
		const series = new HistogramSeries(this.#bounds, {
			buckets: les.map((le) => `${this.name}_bucket${bucketLabels(le)} `),
			sum: `${this.name}_sum${labels} `,
			count: `${this.name}_count${labels} `,
		});
		this.#series.push(series);
		return series;
	}

	render(): string {
		let text = familyHeader(this.name, this.#help, "histogram");
		for (const s of this.#series) {
			let cumulative = 0;
			s.lines.buckets.forEach((line, i) => {
				cumulative += s.counts[i];
				text += `${line}${formatValue(cumulative)}\n`;
			});
			text += `${s.lines.sum}${formatValue(s.sum)}\n${s.lines.count}${formatValue(s.count)}\n`;
		}
		return text;
	}
}

/** A value without labels read when scraped, such as the process' memory. */
class Observed implements Family {
	readonly name: string;
	readonly #help: string;
	readonly #type: MetricType;
	readonly #read: () => number;

	constructor(name: string, help: string, type: "counter" | "gauge", read: () => number) {
		checkMetricName(name);
		this.name = name;
		this.#help = help;
		this.#type = type;
		this.#read = read;
	}

	render(): string {
		return `${familyHeader(this.name, this.#help, this.#type)}${this.name} ${formatValue(this.#read())}\n`;
	}
}

/** The metric families of one server, exposed in the order they were registered. */
export class MetricsRegistry {
	readonly #families: Family[] = [];

	#add<T extends Family>(family: T): T {
		if (this.#families.some((f) => f.name === family.name)) {
			throw new Error(`metric ${family.name} is registered twice`);
		}
		this.#families.push(family);
		return family;
	}

	counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
		return this.#add(new Counter(name, help, labelNames));
	}

	histogram(
		name: string,
		help: string,
		labelNames: readonly string[],
		buckets: readonly number[],
	): Histogram {
		return this.#add(new Histogram(name, help, labelNames, buckets));
	}

	/** A counter or gauge whose value `read` gives at scrape time. */
	observed(name: string, help: string, type: "counter" | "gauge", read: () => number): void {
		this.#add(new Observed(name, help, type, read));
	}

	/** The whole exposition text. */
	expose(): string {
		return this.#families.map((f) => f.render()).join("");
	}
}
