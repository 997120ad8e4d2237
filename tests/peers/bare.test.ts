import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { peerCommand } from "../../bench/peers.ts";
import { freePort } from "../../bench/runtimes.ts";
import { SECURITY_HEADERS } from "../../src/api/respond.ts";

/**
 * peers/bare/: each runtime's own server, as the bench starts it, answers the two floors with the
 * service's bytes (body, Content-Type, the security headers, a Content-Length rather than chunked
 * framing), so a bare row differs from ours by the framework alone; and it exits 0 on SIGTERM.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BODY = '{"status":"ok"}';
const PASSENGER = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25}';

async function answered(url: string): Promise<void> {
	const deadline = Date.now() + 60_000;
	for (;;) {
		const ok = await fetch(url).then(
			(r) => r.arrayBuffer().then(() => r.ok),
			() => false,
		);
		if (ok) return;
		if (Date.now() > deadline) throw new Error(`${url} did not answer in 60 s`);
		await Bun.sleep(50);
	}
}

/** What a floor answer must carry: the service's headers, lower-cased as fetch gives them. */
function shape(response: Response, text: string) {
	return {
		status: response.status,
		text,
		contentType: response.headers.get("content-type"),
		contentLength: response.headers.get("content-length"),
		chunked: response.headers.get("transfer-encoding"),
		security: Object.fromEntries(
			Object.keys(SECURITY_HEADERS).map((name) => [name, response.headers.get(name)]),
		),
	};
}

const EXPECTED = {
	status: 200,
	text: BODY,
	contentType: "application/json",
	contentLength: String(BODY.length),
	chunked: null,
	security: SECURITY_HEADERS,
};

describe.each(["node-bare", "bun-bare", "deno-bare"] as const)("%s", (peer) => {
	test("answers both floors with the service's bytes, and exits 0 on SIGTERM", async () => {
		const port = await freePort();
		const { command, args } = peerCommand(peer, ROOT);
		const child = spawn(command, args, {
			cwd: ROOT,
			env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
			stdio: "ignore",
		});
		const exited = once(child, "exit");
		try {
			const base = `http://127.0.0.1:${port}`;
			await answered(`${base}/health`);
			const get = await fetch(`${base}/health`);
			expect(shape(get, await get.text())).toEqual(EXPECTED);
			const post = await fetch(`${base}/bench/floor-post`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: PASSENGER,
			});
			expect(shape(post, await post.text())).toEqual(EXPECTED);
		} finally {
			child.kill("SIGTERM");
		}
		const [code] = (await exited) as [number | null];
		expect(code).toBe(0);
	}, 120_000);
});
