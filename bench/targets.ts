/**
 * --target NAME=URL: a server someone else runs (their own service, the blog's FastAPI), measured
 * in the same rounds and tables as runtime NAME. The bench neither starts nor stops it, so it has
 * no process stats; it only checks, before the run, that one request gets a 2xx.
 */
export interface Target {
	name: string;
	/** The endpoint the bench POSTs its body to; the tables' model column is its path. */
	url: string;
}

export class TargetError extends Error {}

/** A letter, then letters, digits, '_' or '-': it names raw files and table rows. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** "NAME=URL" -> a target; `taken` are the names already in use (runtimes, peers, targets). */
export function parseTarget(raw: string, taken: readonly string[]): Target {
	const eq = raw.indexOf("=");
	if (eq < 0) throw new TargetError(`--target takes NAME=URL, got "${raw}"`);
	const name = raw.slice(0, eq).trim();
	const text = raw.slice(eq + 1).trim();
	if (!NAME.test(name)) {
		throw new TargetError(
			`--target name "${name}" must start with a letter and hold only letters, digits, _ and - (at most 32)`,
		);
	}
	// Case-blind: "Node" beside "node" would read as the same row in a table.
	if (taken.some((other) => other.toLowerCase() === name.toLowerCase())) {
		throw new TargetError(
			`--target name "${name}" is already the name of a runtime, peer or target`,
		);
	}
	return { name, url: targetUrl(name, text) };
}

function targetUrl(name: string, text: string): string {
	let url: URL;
	try {
		// Without a scheme, "host:8000/p" would parse with "host:" as its scheme.
		if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new Error("no scheme");
		url = new URL(text);
	} catch {
		throw new TargetError(
			`--target ${name}: "${text}" is not a URL like http://127.0.0.1:8000/predict/mlp`,
		);
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") {
		throw new TargetError(
			`--target ${name}: the URL must be http:// or https://, got ${url.protocol}`,
		);
	}
	if (!url.hostname) throw new TargetError(`--target ${name}: the URL has no host`);
	// The results would carry them into results.json and report.md.
	if (url.username || url.password) {
		throw new TargetError(`--target ${name}: the URL must not hold credentials`);
	}
	if (url.pathname === "/" && !text.replace(/[?#].*$/, "").endsWith("/")) {
		throw new TargetError(
			`--target ${name}: the URL needs the endpoint's path, e.g. http://127.0.0.1:8000/predict/mlp`,
		);
	}
	url.hash = "";
	return url.href;
}

/** The tables' model column for a target: its URL's path (and query, if any). */
export const targetModel = (target: Target): string => {
	const url = new URL(target.url);
	return `${url.pathname}${url.search}`;
};

export const targetOrigin = (target: Target): string => new URL(target.url).origin;

/**
 * One POST of the bench's body; resolves when it answers 2xx, else throws one line saying what
 * came back (a status, or why no answer did).
 */
export async function checkTarget(target: Target, body: string, timeoutMs = 5000): Promise<void> {
	let status: number;
	try {
		const response = await fetch(target.url, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body,
			signal: AbortSignal.timeout(timeoutMs),
		});
		await response.arrayBuffer();
		status = response.status;
	} catch (error) {
		throw new TargetError(
			`--target ${target.name}: POST ${target.url} got no answer (${reason(error)})`,
		);
	}
	if (status < 200 || status > 299) {
		throw new TargetError(
			`--target ${target.name}: POST ${target.url} answered ${status}, not 2xx: it must accept the bench's body (--body)`,
		);
	}
}

/** The most specific cause fetch gives: ECONNREFUSED rather than "fetch failed". */
function reason(error: unknown): string {
	const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string } };
	if (e.name === "TimeoutError") return "timed out";
	return e.cause?.code ?? e.code ?? e.message?.split("\n")[0] ?? String(error);
}
