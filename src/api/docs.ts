import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { SECURITY_HEADERS } from "./respond.ts";

/**
 * GET /docs: Swagger UI over /openapi.json, its assets served from this origin out of the pinned
 * swagger-ui-dist package, so the page works without internet and nothing it loads can change
 * under it.
 */

/** Where the UI reads the API description; the page names it, the initializer reads it there. */
const SPEC_URL = "/openapi.json";

/**
 * Self only. Swagger UI (React) sets inline style attributes, hence 'unsafe-inline' for styles
 * (never for scripts); its stylesheet draws icons from data: SVGs.
 */
export const DOCS_CSP = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'",
].join("; ");

// An external file rather than an inline script, so the policy needs no 'unsafe-inline' or hash.
// validatorUrl null: the default would have the page fetch a badge from validator.swagger.io.
const INITIALIZER = `window.ui = SwaggerUIBundle({
	url: document.getElementById("swagger-ui").dataset.url,
	dom_id: "#swagger-ui",
	deepLinking: true,
	validatorUrl: null,
});
`;

const JS = "text/javascript; charset=utf-8";

/** Each asset's URL under /docs/, its source (a file of the package, or inline text) and type. */
const ASSETS = [
	{ name: "swagger-ui.css", file: "swagger-ui.css", type: "text/css; charset=utf-8" },
	{ name: "swagger-ui-bundle.js", file: "swagger-ui-bundle.js", type: JS },
	{ name: "favicon-32x32.png", file: "favicon-32x32.png", type: "image/png" },
	{ name: "init.js", text: INITIALIZER, type: JS },
] as const;

type AssetName = (typeof ASSETS)[number]["name"];

interface Loaded {
	body: Uint8Array<ArrayBuffer>;
	type: string;
	/** A digest of the body: the page asks for ?v=<it>, so a changed asset is a new URL. */
	version: string;
}

// The page is tiny and names the current asset versions: always revalidated. The assets, when
// asked for by their current digest, cannot change at that URL.
const PAGE_CACHE = "no-cache";
const VERSIONED_CACHE = "public, max-age=31536000, immutable";

/** The package's folder, found the way Node resolves it: the same on Node, Bun and Deno. */
function packageDir(): string {
	return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

async function loadAssets(): Promise<Map<AssetName, Loaded>> {
	const dir = packageDir();
	const loaded = await Promise.all(
		ASSETS.map(async (asset) => {
			const body =
				"file" in asset
					? new Uint8Array(await readFile(join(dir, asset.file)))
					: new TextEncoder().encode(asset.text);
			const version = createHash("sha256").update(body).digest("hex").slice(0, 16);
			return [asset.name, { body, type: asset.type, version }] as const;
		}),
	);
	return new Map(loaded);
}

function page(assets: Map<AssetName, Loaded>): string {
	const url = (name: AssetName) => `/docs/${name}?v=${assets.get(name)?.version ?? ""}`;
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Titanic survival inference: API docs</title>
<link rel="icon" type="image/png" href="${url("favicon-32x32.png")}">
<link rel="stylesheet" href="${url("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui" data-url="${SPEC_URL}"></div>
<script src="${url("swagger-ui-bundle.js")}"></script>
<script src="${url("init.js")}"></script>
</body>
</html>
`;
}

export type DocsHandler = (request: Request) => Promise<Response>;

/**
 * The /docs page and its assets as [path, GET handler] pairs. The files (about 2 MB) are read on
 * the first /docs request, not at startup: few processes ever serve the page, and startup time
 * (spawn to ready, measured by the bench) and every worker's memory would pay for it otherwise.
 */
export function docsRoutes(): Array<readonly [path: string, handler: DocsHandler]> {
	let loading: Promise<Map<AssetName, Loaded>> | undefined;
	const load = () => {
		loading ??= loadAssets().catch((error: unknown) => {
			loading = undefined; // let a later request retry rather than cache the failure
			throw error;
		});
		return loading;
	};

	const pageRoute = [
		"/docs",
		async () =>
			new Response(page(await load()), {
				headers: {
					"content-type": "text/html; charset=utf-8",
					"cache-control": PAGE_CACHE,
					"content-security-policy": DOCS_CSP,
					...SECURITY_HEADERS,
				},
			}),
	] as const;

	const assetRoutes = ASSETS.map(
		({ name }) =>
			[
				`/docs/${name}`,
				async (request: Request) => {
					const asset = (await load()).get(name) as Loaded;
					const asked = new URL(request.url).searchParams.get("v");
					return new Response(asset.body, {
						headers: {
							"content-type": asset.type,
							"cache-control": asked === asset.version ? VERSIONED_CACHE : PAGE_CACHE,
							...SECURITY_HEADERS,
						},
					});
				},
			] as const,
	);

	return [pageRoute, ...assetRoutes];
}
