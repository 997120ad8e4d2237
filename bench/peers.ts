import { join } from "node:path";
import { runCollect } from "./processes.ts";

/**
 * results.ts's FLOOR and FLOOR_POST and plan.ts's path of the latter, restated: results.ts imports
 * runtimes.ts, which imports this module (tests/bench/outside.test.ts checks they agree).
 */
const FLOOR = "floor";
const FLOOR_POST = "floor-post";
const FLOOR_POST_PATH = "/bench/floor-post";

/**
 * Peers: reference servers (peers/<name>/), started and stopped by the bench like a runtime and
 * shown beside the runtimes as runtime <name>: FastAPI in Python, and each runtime's own server
 * with no framework ("bare"), which tells the runtime's share of the floors and of a prediction
 * (the same model layer, no validation) from what Hono, validation and our handler add. They serve
 * fewer cells than our service, under their own names; PEER_CELLS says which of ours each stands
 * in for.
 */
const BARE = ["node-bare", "bun-bare", "deno-bare"] as const;
export const PEERS = ["fastapi", ...BARE] as const;
export type PeerName = (typeof PEERS)[number];
type BareName = (typeof BARE)[number];

/** A peer's cell: its name in the tables and the request that measures it. */
export interface PeerCell {
	model: string;
	method: "GET" | "POST";
	path: string;
}

const FASTAPI_MLP: PeerCell = { model: "mlp", method: "POST", path: "/predict/mlp" };
const PEER_FLOOR: PeerCell = { model: FLOOR, method: "GET", path: "/health" };
const PEER_FLOOR_POST: PeerCell = { model: FLOOR_POST, method: "POST", path: FLOOR_POST_PATH };
const FLOORS = { [FLOOR]: PEER_FLOOR, [FLOOR_POST]: PEER_FLOOR_POST };

/**
 * The bare servers' cells: the floors, and each of our four models (options.ts's MODELS, restated:
 * options.ts imports this module) under its own name, at the path ours has.
 */
const BARE_CELLS: Readonly<Record<string, PeerCell>> = {
	...Object.fromEntries(
		["mlp-onnx", "gbdt-onnx", "mlp-ts", "gbdt-ts"].map((model) => [
			model,
			{ model, method: "POST", path: `/predict/${model}` } satisfies PeerCell,
		]),
	),
	...FLOORS,
};

/**
 * Per peer, our cell -> the peer's cell that stands in for it. The FastAPI peer has one MLP (numpy:
 * neither of our two backends), so both mlp-ts and mlp-onnx map to its one cell `mlp`. A cell
 * absent here is skipped for the peer with
 * a note in the report; adding the route to the peer and a line here is all it takes.
 */
export const PEER_CELLS: Record<PeerName, Readonly<Record<string, PeerCell>>> = {
	fastapi: {
		"mlp-ts": FASTAPI_MLP,
		"mlp-onnx": FASTAPI_MLP,
		...FLOORS,
	},
	"node-bare": BARE_CELLS,
	"bun-bare": BARE_CELLS,
	"deno-bare": BARE_CELLS,
};

/** What a peer answers once it is up, polled like our /ready. */
export const PEER_READY_PATH: Record<PeerName, string> = {
	fastapi: "/health",
	"node-bare": "/health",
	"bun-bare": "/health",
	"deno-bare": "/health",
};

/** Where a peer's setup is said, named in every "cannot start" line. */
export const PEER_SETUP: Record<PeerName, string> = {
	fastapi: "peers/fastapi/setup.sh",
	"node-bare": "peers/bare/README.md",
	"bun-bare": "peers/bare/README.md",
	"deno-bare": "peers/bare/README.md",
};

/** The folder of a peer's server and README; a name no peer has (an old results.json) gets its own. */
export const peerFolder = (peer: string): string =>
	(BARE as readonly string[]).includes(peer) ? "peers/bare" : `peers/${peer}`;

/** A bare peer's runtime, whose pinned binary (node_modules/.bin) runs peers/bare/<runtime>.ts. */
const bareRuntime = (peer: BareName) => peer.slice(0, -"-bare".length);

const DENO_PERMISSIONS = [
	"--allow-net",
	"--allow-env=PORT,HOST,MODELS_DIR",
	"--allow-read=.",
	"--allow-ffi=node_modules/onnxruntime-node",
	"--allow-sys=cpus",
];

function bareCommand(peer: BareName, root: string): { command: string; args: string[] } {
	const runtime = bareRuntime(peer);
	const command = join(root, "node_modules", ".bin", runtime);
	const entry = join(root, "peers", "bare", `${runtime}.ts`);
	// Deno: only what the server needs, as deno.json's serve task grants the service: the models
	// folder and onnxruntime's native library.
	const flags = runtime === "deno" ? ["run", ...DENO_PERMISSIONS] : [];
	return { command, args: [...flags, entry] };
}

/**
 * The peer's server process. Debian's packages are only visible to Debian's /usr/bin/python3 (see
 * peers/fastapi/README.md); FASTAPI_PYTHON picks another interpreter, as `npm run peer:fastapi`.
 */
export function peerCommand(
	peer: PeerName,
	root: string,
	env: NodeJS.ProcessEnv = process.env,
): { command: string; args: string[] } {
	switch (peer) {
		case "fastapi":
			return {
				command: env.FASTAPI_PYTHON || "/usr/bin/python3",
				args: [join(root, "peers", "fastapi", "server.py")],
			};
		default:
			return bareCommand(peer, root);
	}
}

/** The peer's cells for the models asked for, each once, in the order first asked for. */
export function peerCells(peer: PeerName, models: readonly string[]): PeerCell[] {
	const cells = new Map<string, PeerCell>();
	for (const model of models) {
		const cell = PEER_CELLS[peer][model];
		if (cell && !cells.has(cell.model)) cells.set(cell.model, cell);
	}
	return [...cells.values()];
}

/** The models asked for that the peer has no cell for. */
export function peerSkips(peer: PeerName, models: readonly string[]): string[] {
	return models.filter((model) => PEER_CELLS[peer][model] === undefined);
}

export const isPeer = (name: string): name is PeerName =>
	(PEERS as readonly string[]).includes(name);

/** What results.json records as the peer's version: its framework, server, numpy and Python. */
export async function peerVersion(
	peer: PeerName,
	root: string,
	env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
	switch (peer) {
		case "fastapi": {
			const { command } = peerCommand(peer, root, env);
			const script =
				"import sys, fastapi, uvicorn, numpy; print(f'{fastapi.__version__} (uvicorn {uvicorn.__version__}, numpy {numpy.__version__}, Python {sys.version.split()[0]})')";
			const result = await runCollect(command, ["-c", script], { timeoutMs: 15_000 });
			return (result.code === 0 && result.stdout.trim()) || "unknown";
		}
		default: {
			const { command } = bareCommand(peer, root);
			const result = await runCollect(command, ["--version"], { timeoutMs: 15_000 });
			// node prints "v24.21.0", bun "1.4.5", deno "deno 2.9.6 (stable, ...)".
			const version = /\d+\.\d+\.\d+\S*/.exec(result.stdout)?.[0];
			return result.code === 0 && version
				? `${bareRuntime(peer)} ${version} (no framework)`
				: "unknown";
		}
	}
}
