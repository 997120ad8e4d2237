import type { CellPlan } from "./plan.ts";
import { V2_PREFIX, v2Path } from "./v2.ts";

/** What a cell's check needs of a server: its name and where the cell's requests go. */
interface Checked {
	readonly name: string;
	target(plan: CellPlan): { method: string; url: string; body: string };
}

/**
 * Sends one request per cell before anything is measured: a model the server does not serve, a
 * body it refuses (a --body it finds invalid, an API_KEY the servers inherited from the bench's
 * environment) stops the bench with one line carrying the server's own message, instead of a
 * table of timed errors.
 */
export async function checkCells(server: Checked, cells: readonly CellPlan[]): Promise<void> {
	const seen = new Set<string>();
	for (const plan of cells) {
		if (seen.has(plan.model)) continue;
		seen.add(plan.model);
		const { method, url, body } = server.target(plan);
		const response = await fetch(url, {
			method,
			...(method === "GET" ? {} : { body }),
			headers: { "content-type": "application/json" },
			signal: AbortSignal.timeout(30_000),
		}).catch((error: unknown) => {
			const cause = (error as { cause?: { code?: string } })?.cause?.code;
			const why = cause ?? (error as { code?: string })?.code ?? String(error);
			throw new Error(`${server.name}: ${method} ${url} got no answer (${why})`);
		});
		const text = await response.text();
		if (response.status >= 200 && response.status < 300) continue;
		const answered = `${server.name} answered ${response.status} to ${method} ${plan.path}: ${errorMessage(text)}`;
		throw new Error(
			v2Path(plan.model) === null
				? `${answered} (every cell must answer 2xx before it is measured)`
				: `--v2 ${plan.model.slice(V2_PREFIX.length)}: ${answered}`,
		);
	}
}

/** The protocol's {"error": "..."} message, else the start of whatever the server sent. */
function errorMessage(text: string): string {
	try {
		const parsed = JSON.parse(text) as { error?: unknown };
		if (typeof parsed.error === "string") return parsed.error;
		const nested = (parsed.error as { message?: unknown } | undefined)?.message;
		if (typeof nested === "string") return nested;
	} catch {
		// Not JSON: quoted below.
	}
	const line = text.replace(/\s+/g, " ").trim();
	return line === "" ? "(empty body)" : line.slice(0, 200);
}
