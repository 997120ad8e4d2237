import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize, relative, resolve } from "node:path";
import { loadConfig } from "../../src/config.ts";
import {
	PROJECT_ROOT,
	RUNTIMES,
	type RunningServer,
	type Runtime,
	runToExit,
	startServer,
	waitReady,
} from "../support/server.ts";

/**
 * No container engine runs where these tests run, so the deployment files are checked as files:
 * the Dockerfile is parsed into instructions, deploy/k8s.yaml into objects, and each is held against
 * the repository (paths that exist, package.json's pinned runtimes, deno.json's permissions). The
 * images' HEALTHCHECK commands are the one part that does run: against a real server.
 */

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), "utf8");

// --- A small Dockerfile parser -------------------------------------------------------------------

interface Instruction {
	/** Upper-case keyword, e.g. FROM. */
	keyword: string;
	/** Everything after the keyword, continuation lines joined. */
	args: string;
	line: number;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
	const instructions: Instruction[] = [];
	let pending = "";
	let start = 0;
	text.split("\n").forEach((raw, index) => {
		const line = raw.trimEnd();
		const trimmed = line.trim();
		// Comment lines (and parser directives) end nothing: they may sit inside a continuation.
		if (trimmed.startsWith("#")) return;
		if (pending === "" && trimmed === "") return;
		if (pending === "") start = index + 1;
		const continued = line.endsWith("\\");
		pending += `${continued ? line.slice(0, -1) : line} `;
		if (continued) return;
		const match = /^\s*(\S+)\s*(.*)$/.exec(pending.trim());
		if (match?.[1]) {
			instructions.push({
				keyword: match[1].toUpperCase(),
				args: (match[2] ?? "").trim(),
				line: start,
			});
		}
		pending = "";
	});
	if (pending.trim() !== "") throw new Error(`dangling continuation at line ${start}`);
	return instructions;
}

/** Options (`--name=value`) at the start of an instruction's arguments, and what follows them. */
function splitOptions(args: string): { options: Record<string, string>; rest: string } {
	const options: Record<string, string> = {};
	let rest = args;
	for (;;) {
		const match = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest);
		if (!match?.[1]) return { options, rest };
		options[match[1]] = match[2] ?? "";
		rest = rest.slice(match[0].length);
	}
}

/** Exec form (JSON array) only: shell form would put sh between the runtime and its signals. */
function execForm(args: string): string[] {
	const value: unknown = JSON.parse(args);
	if (!Array.isArray(value) || !value.every((part) => typeof part === "string")) {
		throw new Error(`not an exec-form array: ${args}`);
	}
	return value;
}

/** Parses `KEY=value KEY2="value 2"` (ENV and ARG). */
function keyValues(args: string): Record<string, string> {
	const pairs: Record<string, string> = {};
	for (const match of args.matchAll(/([A-Za-z_][\w]*)(?:=("[^"]*"|\S*))?/g)) {
		const [, key = "", value = ""] = match;
		pairs[key] = value.replace(/^"(.*)"$/, "$1");
	}
	return pairs;
}

const substitute = (text: string, vars: Record<string, string>) =>
	text.replace(
		/\$\{(\w+)\}|\$(\w+)/g,
		(whole, a?: string, b?: string) => vars[a ?? b ?? ""] ?? whole,
	);

interface Stage {
	/** The FROM reference as written, e.g. node:${NODE_VERSION}-bookworm-slim or runtime-${RUNTIME}. */
	from: string;
	name?: string;
	instructions: Instruction[];
}

interface Dockerfile {
	/** ARGs declared before the first FROM, with their defaults. */
	globalArgs: Record<string, string>;
	stages: Stage[];
}

function loadDockerfile(): Dockerfile {
	const instructions = parseDockerfile(read("Dockerfile"));
	const globalArgs: Record<string, string> = {};
	const stages: Stage[] = [];
	for (const instruction of instructions) {
		if (instruction.keyword === "FROM") {
			const [from = "", as, name] = splitOptions(instruction.args).rest.split(/\s+/);
			stages.push({
				from,
				name: as?.toUpperCase() === "AS" ? name : undefined,
				instructions: [],
			});
		} else if (stages.length === 0) {
			if (instruction.keyword !== "ARG") throw new Error(`${instruction.keyword} before FROM`);
			Object.assign(globalArgs, keyValues(instruction.args));
		} else {
			stages.at(-1)?.instructions.push(instruction);
		}
	}
	return { globalArgs, stages };
}

const KNOWN = new Set(
	"FROM RUN CMD LABEL EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL".split(
		" ",
	),
);

const dockerfile = loadDockerfile();
const stageNamed = (name: string) => dockerfile.stages.find((stage) => stage.name === name);

/**
 * The instructions in effect for the final image built with RUNTIME=<runtime>: the stage chain from
 * the base image down (a stage FROM another stage inherits its settings), later ones last.
 */
function effectiveInstructions(runtime: Runtime): Instruction[] {
	const vars = { ...dockerfile.globalArgs, RUNTIME: runtime };
	const chain: Stage[] = [];
	let stage = dockerfile.stages.at(-1);
	while (stage) {
		chain.unshift(stage);
		stage = stageNamed(substitute(stage.from, vars));
		if (stage && chain.includes(stage)) throw new Error("FROM cycle");
	}
	return chain.flatMap((s) => s.instructions);
}

const last = (instructions: Instruction[], keyword: string) =>
	instructions.filter((i) => i.keyword === keyword).at(-1);

const envOf = (instructions: Instruction[]) =>
	Object.assign(
		{},
		...instructions.filter((i) => i.keyword === "ENV").map((i) => keyValues(i.args)),
	) as Record<string, string>;

/** Flags of deno.json's serve task, the one place Deno's permissions are written down. */
function denoServeTask(): { flags: string[]; entry: string } {
	const task = (JSON.parse(read("deno.json")) as { tasks: { serve: string } }).tasks.serve;
	const words = task.split(/\s+/);
	const runAt = words.indexOf("run");
	return {
		flags: words.slice(runAt + 1).filter((w) => w.startsWith("-")),
		entry: words.at(-1) ?? "",
	};
}

const pkg = JSON.parse(read("package.json")) as { devDependencies: Record<string, string> };

const major = (version: string) => /(\d+)/.exec(version)?.[1];

/** Official image repository per runtime, and the package.json devDependency it must match. */
const OFFICIAL: Record<Runtime, { repository: string; pinned: string }> = {
	node: { repository: "node", pinned: "node" },
	bun: { repository: "oven/bun", pinned: "bun" },
	deno: { repository: "denoland/deno", pinned: "deno" },
};

// --- .dockerignore ---------------------------------------------------------------------------------

const ignorePatterns = read(".dockerignore")
	.split("\n")
	.map((line) => line.trim())
	.filter((line) => line !== "" && !line.startsWith("#"));

/** The glob syntax .dockerignore uses: `**` any path, `*` within one segment, `?` one character. */
function globToRegex(glob: string): string {
	let out = "";
	for (let i = 0; i < glob.length; i++) {
		const char = glob[i] ?? "";
		if (char === "*" && glob[i + 1] === "*") {
			out += ".*";
			i++;
		} else if (char === "*") out += "[^/]*";
		else if (char === "?") out += "[^/]";
		else out += char.replace(/[.+^$()|[\]{}\\]/g, "\\$&");
	}
	return out;
}

/** Whether .dockerignore keeps a repository path out of the build context (the patterns used here). */
function ignored(path: string): boolean {
	const clean = normalize(path).replace(/^\.\//, "").replace(/\/$/, "");
	let out = false;
	for (const raw of ignorePatterns) {
		const negate = raw.startsWith("!");
		const pattern = (negate ? raw.slice(1) : raw).replace(/^\//, "").replace(/\/$/, "");
		const regex = new RegExp(`^${globToRegex(pattern)}(/.*)?$`);
		if (regex.test(clean)) out = !negate;
	}
	return out;
}

describe("Dockerfile", () => {
	test("parses into known instructions, one image stage per runtime", () => {
		const all = dockerfile.stages.flatMap((s) => s.instructions);
		expect(all.length).toBeGreaterThan(10);
		for (const instruction of all) expect(KNOWN).toContain(instruction.keyword);
		expect(dockerfile.stages.map((s) => s.name)).toEqual(
			expect.arrayContaining(["deps", ...RUNTIMES.map((r) => `runtime-${r}`)]),
		);
		// The final stage picks the runtime stage by build argument; its default is a real runtime.
		expect(dockerfile.stages.at(-1)?.from).toMatch(/^runtime-\$\{RUNTIME\}$/);
		expect(RUNTIMES).toContain(dockerfile.globalArgs.RUNTIME as Runtime);
	});

	test("the parser joins continuations and skips comments", () => {
		const parsed = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n# inside\n\t&& y\nCMD ["z"]\n');
		expect(parsed.map((i) => [i.keyword, i.args.replace(/\s+/g, " ")])).toEqual([
			["FROM", "a AS b"],
			["RUN", "x && y"],
			["CMD", '["z"]'],
		]);
	});

	test.each(RUNTIMES)(
		"%s: FROM an official Debian image whose major matches package.json",
		(runtime) => {
			const { repository, pinned } = OFFICIAL[runtime];
			const stage = stageNamed(`runtime-${runtime}`);
			const image = substitute(stage?.from ?? "", dockerfile.globalArgs);
			const [name, tag = ""] = image.split(":");
			expect(name).toBe(repository);
			// onnxruntime-node's linux binaries need glibc.
			expect(tag).not.toMatch(/alpine|musl|distroless/);
			const version = pkg.devDependencies[pinned] ?? "";
			expect(version).not.toBe("");
			expect(major(tag)).toBe(major(version));
		},
	);

	test("node_modules are installed with production dependencies only, on the pinned Node", () => {
		const deps = stageNamed("deps");
		const image = substitute(deps?.from ?? "", dockerfile.globalArgs);
		expect(image.split(":")[0]).toBe("node");
		expect(major(image.split(":")[1] ?? "")).toBe(major(pkg.devDependencies.node ?? ""));
		const install = deps?.instructions.find((i) => i.keyword === "RUN" && /npm ci/.test(i.args));
		expect(install?.args).toContain("--omit=dev");
	});

	test("every COPY source exists in the build context (or is an earlier stage)", () => {
		const copies = dockerfile.stages.flatMap((s) =>
			s.instructions.filter((i) => i.keyword === "COPY" || i.keyword === "ADD"),
		);
		expect(copies.length).toBeGreaterThan(0);
		for (const copy of copies) {
			const { options, rest } = splitOptions(copy.args);
			const paths = rest.startsWith("[") ? execForm(rest) : rest.split(/\s+/);
			const sources = paths.slice(0, -1);
			expect(sources.length).toBeGreaterThan(0);
			if (options.from !== undefined) {
				const index = dockerfile.stages.findIndex((s) => s.name === options.from);
				expect(index).toBeGreaterThanOrEqual(0);
				continue;
			}
			for (const source of sources) {
				expect({ source, exists: existsSync(join(PROJECT_ROOT, source)) }).toEqual({
					source,
					exists: true,
				});
				expect({ source, ignored: ignored(source) }).toEqual({ source, ignored: false });
			}
		}
	});

	test.each(RUNTIMES)("%s: CMD is exec form and starts an entry point that exists", (runtime) => {
		const cmd = last(effectiveInstructions(runtime), "CMD");
		expect(cmd).toBeDefined();
		const argv = execForm(cmd?.args ?? "");
		expect(argv[0]).toBe(runtime);
		const entry = argv.at(-1) ?? "";
		expect(entry).toBe(`src/serve/${runtime}.ts`);
		expect(existsSync(join(PROJECT_ROOT, entry))).toBe(true);
		expect(last(effectiveInstructions(runtime), "ENTRYPOINT")).toBeUndefined();
	});

	test("deno: the same permission flags as deno.json's serve task, no broader ones", () => {
		const argv = execForm(last(effectiveInstructions("deno"), "CMD")?.args ?? "");
		const task = denoServeTask();
		expect(argv.slice(0, 2)).toEqual(["deno", "run"]);
		expect(argv.filter((w) => w.startsWith("-")).sort()).toEqual([...task.flags].sort());
		expect(argv.at(-1)).toBe(task.entry);
	});

	test.each(RUNTIMES)("%s: runs as a numeric non-root USER", (runtime) => {
		const user = last(effectiveInstructions(runtime), "USER")?.args ?? "";
		expect(user).toMatch(/^\d+(:\d+)?$/);
		const [uid, gid] = user.split(":");
		expect(Number(uid)).toBeGreaterThan(0);
		if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
	});

	test.each(RUNTIMES)("%s: HEALTHCHECK runs the runtime itself against /ready", (runtime) => {
		const check = last(effectiveInstructions(runtime), "HEALTHCHECK");
		const { options, rest } = splitOptions(check?.args ?? "");
		expect(rest.startsWith("CMD ")).toBe(true);
		const argv = execForm(rest.slice(4));
		expect(argv[0]).toBe(runtime);
		expect(argv.join(" ")).toContain("/ready");
		expect(options["start-period"]).toBeDefined();
	});

	test.each(RUNTIMES)("%s: listens on 0.0.0.0 and EXPOSEs its PORT", (runtime) => {
		const instructions = effectiveInstructions(runtime);
		const env = envOf(instructions);
		expect(env.HOST).toBe("0.0.0.0");
		expect(env.PORT).toMatch(/^\d+$/);
		const exposed = instructions
			.filter((i) => i.keyword === "EXPOSE")
			.flatMap((i) => i.args.split(/\s+/).map((p) => p.replace(/\/tcp$/, "")));
		expect(exposed).toEqual([env.PORT ?? ""]);
		expect(last(instructions, "STOPSIGNAL")?.args).toBe("SIGTERM");
	});

	test("no file the entry points import is left out of the build context", () => {
		const seen = new Set<string>();
		const visit = (file: string) => {
			if (seen.has(file)) return;
			seen.add(file);
			const source = readFileSync(file, "utf8");
			for (const match of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
				visit(resolve(dirname(file), match[1] ?? ""));
			}
		};
		for (const runtime of RUNTIMES) visit(join(PROJECT_ROOT, `src/serve/${runtime}.ts`));
		expect(seen.size).toBeGreaterThan(RUNTIMES.length);
		const left = [...seen].map((f) => relative(PROJECT_ROOT, f)).filter((f) => ignored(f));
		expect(left).toEqual([]);
		// And the .dockerignore matcher does exclude something, so the check above can fail.
		expect(ignored("src/train/cli.ts")).toBe(ignorePatterns.includes("src/train"));
		expect(ignored("node_modules/hono/package.json")).toBe(true);
	});
});

// --- Kubernetes ----------------------------------------------------------------------------------

interface Probe {
	httpGet?: { path?: string; port?: number | string };
}

interface SecurityContext {
	runAsNonRoot?: boolean;
	runAsUser?: number;
	runAsGroup?: number;
	fsGroup?: number;
	privileged?: boolean;
	readOnlyRootFilesystem?: boolean;
	allowPrivilegeEscalation?: boolean;
	capabilities?: { drop?: string[]; add?: string[] };
	seccompProfile?: { type: string };
}

interface Container {
	name: string;
	image?: string;
	ports?: { name?: string; containerPort: number; protocol?: string }[];
	env?: { name: string; value?: string; valueFrom?: unknown }[];
	readinessProbe?: Probe;
	livenessProbe?: Probe;
	startupProbe?: Probe;
	resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
	lifecycle?: { preStop?: { sleep?: { seconds: number } } };
	securityContext?: SecurityContext;
	volumeMounts?: { name: string; mountPath: string }[];
}

interface K8sObject {
	apiVersion: string;
	kind: string;
	metadata: { name: string; annotations?: Record<string, string> };
	spec: Record<string, unknown>;
}

interface DeploymentSpec {
	replicas: number;
	selector: { matchLabels: Record<string, string> };
	template: {
		metadata: { labels: Record<string, string> };
		spec: {
			terminationGracePeriodSeconds?: number;
			securityContext?: SecurityContext;
			containers: Container[];
		};
	};
}

interface ServiceSpec {
	type?: string;
	selector: Record<string, string>;
	ports: { port: number; targetPort: number | string }[];
}

interface HpaSpec {
	scaleTargetRef: { apiVersion: string; kind: string; name: string };
	minReplicas?: number;
	maxReplicas: number;
	metrics?: {
		type: string;
		resource?: { name: string; target: { type: string; averageUtilization?: number } };
	}[];
}

/** The objects of a multi-document YAML file under deploy/. */
function loadManifests(path: string): K8sObject[] {
	const parsed: unknown = Bun.YAML.parse(read(path));
	return (Array.isArray(parsed) ? parsed : [parsed]) as K8sObject[];
}

const manifests = loadManifests("deploy/k8s.yaml");
const deploymentObject = manifests.find((m) => m.kind === "Deployment");
const deployment = deploymentObject?.spec as DeploymentSpec | undefined;
const service = manifests.find((m) => m.kind === "Service")?.spec as ServiceSpec | undefined;
const hpaObject = manifests.find((m) => m.kind === "HorizontalPodAutoscaler");
const hpa = hpaObject?.spec as HpaSpec | undefined;
const pod = deployment?.template.spec;
const container = pod?.containers[0];

/** A probe's or Service's port, by number or by the container port's name. */
const resolvePort = (port: number | string | undefined) =>
	typeof port === "string" ? container?.ports?.find((p) => p.name === port)?.containerPort : port;

/** How long the service itself may take to drain on SIGTERM (src/serve/lifecycle.ts, ~5 s). */
const DRAIN_SECONDS = 5;

describe("deploy/k8s.yaml", () => {
	test("holds a Deployment and a ClusterIP Service that selects its pods", () => {
		expect(deployment).toBeDefined();
		expect(service).toBeDefined();
		expect(deployment?.replicas).toBe(2);
		expect(service?.type ?? "ClusterIP").toBe("ClusterIP");
		expect(deployment?.template.metadata.labels).toMatchObject(
			deployment?.selector.matchLabels ?? { x: 1 },
		);
		expect(deployment?.template.metadata.labels).toMatchObject(service?.selector ?? { x: 1 });
		expect(pod?.containers).toHaveLength(1);
	});

	test("probes: readiness on /ready, liveness on /health, both on the container port", () => {
		const port = container?.ports?.[0]?.containerPort;
		expect(container?.readinessProbe?.httpGet?.path).toBe("/ready");
		expect(container?.livenessProbe?.httpGet?.path).toBe("/health");
		expect(resolvePort(container?.readinessProbe?.httpGet?.port)).toBe(port);
		expect(resolvePort(container?.livenessProbe?.httpGet?.port)).toBe(port);
		if (container?.startupProbe) {
			expect(resolvePort(container.startupProbe.httpGet?.port)).toBe(port);
		}
	});

	test("the Service targets the container port, which is the image's PORT", () => {
		const port = container?.ports?.[0]?.containerPort;
		expect(service?.ports).toHaveLength(1);
		expect(service?.ports[0]?.port).toBe(80);
		expect(resolvePort(service?.ports[0]?.targetPort)).toBe(port);
		const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
		expect(env.HOST).toBe("0.0.0.0");
		expect(String(port)).toBe(env.PORT ?? envOf(effectiveInstructions("node")).PORT ?? "");
		expect(port).toBe(Number(envOf(effectiveInstructions("node")).PORT));
	});

	test("runs as non-root, read-only, without privilege escalation or capabilities", () => {
		const nonRoot = container?.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot;
		expect(nonRoot).toBe(true);
		const uid = container?.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser;
		if (uid !== undefined) {
			const imageUser = last(effectiveInstructions("node"), "USER")?.args.split(":")[0];
			expect(uid).toBe(Number(imageUser));
		}
		expect(container?.securityContext?.allowPrivilegeEscalation).toBe(false);
		expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
		expect(container?.securityContext?.capabilities?.drop).toEqual(["ALL"]);
		expect(container?.resources?.requests?.cpu).toBeDefined();
		expect(container?.resources?.limits?.memory).toBeDefined();
	});

	test("the grace period covers the preStop sleep plus the drain", () => {
		const grace = pod?.terminationGracePeriodSeconds ?? 30;
		const preStop = container?.lifecycle?.preStop?.sleep?.seconds ?? 0;
		expect(preStop).toBeGreaterThan(0);
		expect(grace).toBeGreaterThan(preStop + DRAIN_SECONDS);
	});

	test("a HorizontalPodAutoscaler scales the Deployment on CPU, from its replica count up", () => {
		expect(manifests.map((m) => m.kind).sort()).toEqual(
			["Deployment", "HorizontalPodAutoscaler", "Service"].sort(),
		);
		expect(hpaObject?.apiVersion).toBe("autoscaling/v2");
		expect(hpa?.scaleTargetRef).toEqual({
			apiVersion: "apps/v1",
			kind: "Deployment",
			name: deploymentObject?.metadata.name ?? "",
		});
		const min = hpa?.minReplicas ?? 1;
		expect(min).toBeGreaterThanOrEqual(1);
		expect(min).toBeLessThanOrEqual(hpa?.maxReplicas ?? 0);
		// Not above the Deployment's own count: applying the file would otherwise scale it up and
		// the autoscaler straight back.
		expect(min).toBeLessThanOrEqual(deployment?.replicas ?? 0);
		const cpu = hpa?.metrics?.find((m) => m.type === "Resource" && m.resource?.name === "cpu");
		expect(cpu?.resource?.target.type).toBe("Utilization");
		expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0);
		expect(cpu?.resource?.target.averageUtilization).toBeLessThanOrEqual(100);
		// Utilization is measured against the cpu request: without one on every container the
		// autoscaler has nothing to compare with and does not scale.
		for (const c of pod?.containers ?? []) expect(c.resources?.requests?.cpu).toBeDefined();
	});
});

// --- KServe --------------------------------------------------------------------------------------

/**
 * What KServe and, in its Knative mode, Knative Serving accept, from their sources:
 * kserve pkg/apis/serving/v1alpha1/servingruntime_types.go, v1beta1/predictor_model.go (how a
 * runtime is matched), knative serving pkg/apis/serving/k8s_validation.go and fieldmask.go.
 */
const KSERVE_CONTAINER = "kserve-container";
/** Where KServe's storage initializer puts the storageUri's files. */
const KSERVE_MODEL_DIR = "/mnt/models";
/** Knative sets these itself (PORT to the containerPort) and rejects a container that sets them. */
const KNATIVE_RESERVED_ENV = ["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"];
/** Knative: the one container port may only be unnamed, "http1" or "h2c". */
const KNATIVE_PORT_NAMES = [undefined, "", "http1", "h2c"];
/** The protocols this server speaks: the Open Inference Protocol over REST, no gRPC. */
const SERVER_PROTOCOLS = ["v2"];

interface ServingRuntimeSpec {
	annotations?: Record<string, string>;
	supportedModelFormats: { name: string; version?: string; autoSelect?: boolean }[];
	protocolVersions?: string[];
	containers: Container[];
	volumes?: Record<string, unknown>[];
}

interface InferenceServiceSpec {
	predictor: {
		model: {
			modelFormat: { name: string; version?: string };
			runtime?: string;
			protocolVersion?: string;
			storageUri?: string;
		};
	};
}

const kserve = loadManifests("deploy/kserve.yaml");
const runtimeObject = kserve.find((m) => m.kind === "ServingRuntime");
const runtimeSpec = runtimeObject?.spec as ServingRuntimeSpec | undefined;
const isvcObject = kserve.find((m) => m.kind === "InferenceService");
const isvcModel = (isvcObject?.spec as InferenceServiceSpec | undefined)?.predictor.model;
const kserveContainer = runtimeSpec?.containers.find((c) => c.name === KSERVE_CONTAINER);
const kserveEnv = kserveContainer?.env ?? [];
const kservePort = kserveContainer?.ports?.[0]?.containerPort;

/** Splits `name:tag` (the name may hold a registry host with a port). */
const splitImage = (image = "") => {
	const at = image.lastIndexOf(":");
	return at > image.lastIndexOf("/")
		? { name: image.slice(0, at), tag: image.slice(at + 1) }
		: { name: image, tag: "" };
};
const kserveImage = splitImage(kserveContainer?.image);
const kserveRuntime = kserveImage.tag as Runtime;

/**
 * KServe's runtime match for a model that names its runtime: the format's name, and its version
 * when the model gives one, among the runtime's supported formats.
 */
function supportsFormat(
	runtime: ServingRuntimeSpec | undefined,
	format: { name: string; version?: string } | undefined,
) {
	if (!runtime || !format) return false;
	const labels = runtime.supportedModelFormats.flatMap((f) =>
		f.version === undefined ? [f.name] : [f.name, `${f.name}:${f.version}`],
	);
	return labels.includes(
		format.version === undefined ? format.name : `${format.name}:${format.version}`,
	);
}

/**
 * Whether the image built for `runtime` may read `dir`: always on Node and Bun; on Deno only inside
 * an --allow-read path of its CMD (relative ones from the image's WORKDIR).
 */
function imageMayRead(runtime: Runtime, dir: string): boolean {
	if (runtime !== "deno") return true;
	const instructions = effectiveInstructions(runtime);
	const workdir = last(instructions, "WORKDIR")?.args ?? "/";
	const argv = execForm(last(instructions, "CMD")?.args ?? "[]");
	const flag = argv.find((a) => a === "--allow-read" || a.startsWith("--allow-read="));
	if (flag === undefined) return false;
	if (flag === "--allow-read") return true;
	return flag
		.slice("--allow-read=".length)
		.split(",")
		.some((allowed) => {
			const rel = relative(resolve(workdir, allowed), dir);
			return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
		});
}

/** The environment variables the server's config reads: recorded while it loads an empty env. */
function settingsRead(): Set<string> {
	const seen = new Set<string>();
	const env = new Proxy({} as Record<string, string | undefined>, {
		get(_, key) {
			if (typeof key === "string") seen.add(key);
			return undefined;
		},
	});
	loadConfig(env, 1);
	return seen;
}

/** The model's name: its file under /mnt/models is the storageUri's last segment, NAME.onnx. */
const servedModelName = () => /([^/]+)\.onnx$/.exec(isvcModel?.storageUri ?? "")?.[1];

describe("deploy/kserve.yaml", () => {
	test("holds exactly a ServingRuntime and an InferenceService, in KServe's API versions", () => {
		expect(kserve.map((m) => `${m.apiVersion}/${m.kind}`).sort()).toEqual([
			"serving.kserve.io/v1alpha1/ServingRuntime",
			"serving.kserve.io/v1beta1/InferenceService",
		]);
		expect(runtimeSpec?.containers).toHaveLength(1);
		expect(kserveContainer).toBeDefined();
	});

	test("the InferenceService names the runtime, a model format it supports, and protocol v2", () => {
		expect(isvcModel?.runtime).toBe(runtimeObject?.metadata.name ?? "");
		expect(isvcModel?.modelFormat.name).toBe("onnx");
		expect(supportsFormat(runtimeSpec, isvcModel?.modelFormat)).toBe(true);
		// The matcher can fail: a format the runtime does not list is not supported.
		expect(supportsFormat(runtimeSpec, { name: "onnx", version: "999" })).toBe(false);
		expect(runtimeSpec?.protocolVersions).toEqual(SERVER_PROTOCOLS);
		// KServe defaults a model to v1, which this runtime does not offer.
		expect(isvcModel?.protocolVersion).toBe("v2");
	});

	test("the model file is NAME.onnx, downloaded to where MODELS_DIR points", () => {
		expect(isvcModel?.storageUri).toMatch(/^[a-z0-9]+:\/\//);
		expect(servedModelName()).toMatch(/^[A-Za-z0-9][\w.-]*$/);
		const env = Object.fromEntries(kserveEnv.map((e) => [e.name, e.value]));
		expect(env.MODELS_DIR).toBe(KSERVE_MODEL_DIR);
		// KServe mounts that folder itself; a mount of the runtime's own there would clash.
		for (const mount of kserveContainer?.volumeMounts ?? []) {
			expect(relative(KSERVE_MODEL_DIR, mount.mountPath).startsWith("..")).toBe(true);
		}
	});

	test("the image is one the Dockerfile builds, named as in deploy/k8s.yaml, that may read the models", () => {
		const plain = splitImage(container?.image);
		expect(RUNTIMES).toContain(plain.tag as Runtime);
		expect(kserveImage.name).toBe(plain.name);
		expect(RUNTIMES).toContain(kserveRuntime);
		expect(imageMayRead(kserveRuntime, KSERVE_MODEL_DIR)).toBe(true);
		// The check can fail: the deno image reads only inside its WORKDIR.
		expect(imageMayRead("deno", KSERVE_MODEL_DIR)).toBe(false);
		expect(imageMayRead("deno", "/app/models")).toBe(true);
	});

	test("one container port, the image's PORT, which Knative hands the server as PORT", () => {
		expect(kserveContainer?.ports).toHaveLength(1);
		expect(KNATIVE_PORT_NAMES).toContain(kserveContainer?.ports?.[0]?.name);
		expect(kserveContainer?.ports?.[0]?.protocol ?? "TCP").toBe("TCP");
		// In Standard mode nothing sets PORT, so the image's must be the declared port.
		expect(kservePort).toBe(Number(envOf(effectiveInstructions(kserveRuntime)).PORT));
		const names = kserveEnv.map((e) => e.name);
		for (const reserved of KNATIVE_RESERVED_ENV) expect(names).not.toContain(reserved);
		const env = Object.fromEntries(kserveEnv.map((e) => [e.name, e.value]));
		expect(env.HOST).toBe("0.0.0.0");
		const metricsPort = runtimeSpec?.annotations?.["prometheus.kserve.io/port"];
		if (metricsPort !== undefined) expect<number | undefined>(Number(metricsPort)).toBe(kservePort);
	});

	test("probes: readiness on /v2/health/ready, liveness on /v2/health/live, on that port", () => {
		expect(kserveContainer?.readinessProbe?.httpGet?.path).toBe("/v2/health/ready");
		expect(kserveContainer?.livenessProbe?.httpGet?.path).toBe("/v2/health/live");
		const probes = [
			kserveContainer?.readinessProbe,
			kserveContainer?.livenessProbe,
			kserveContainer?.startupProbe,
		].filter((p) => p !== undefined);
		for (const probe of probes) {
			const port = probe.httpGet?.port;
			// Knative: a probe's port is a number, or the container port's name.
			if (typeof port === "string") expect(port).toBe(kserveContainer?.ports?.[0]?.name ?? "");
			else expect(port).toBe(kservePort);
		}
	});

	test("every variable it sets is a setting the server reads, with a valid value", () => {
		const known = settingsRead();
		// The recorder sees the config's reads (so the check below can fail).
		expect([...known]).toEqual(expect.arrayContaining(["PORT", "HOST", "MODELS_DIR"]));
		for (const { name } of kserveEnv)
			expect({ name, known: known.has(name) }).toEqual({ name, known: true });
		const values = Object.fromEntries(
			kserveEnv.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
		);
		const config = loadConfig(values, 1);
		expect(config.modelsDir).toBe(KSERVE_MODEL_DIR);
		expect(config.host).toBe("0.0.0.0");
	});

	test("runs as hardened as deploy/k8s.yaml, with resources; nothing Knative rejects", () => {
		// A ServingRuntime has no pod securityContext: the Deployment's pod-level settings must be
		// on the container (fsGroup has no container equivalent).
		const { fsGroup: _, ...podLevel } = pod?.securityContext ?? {};
		const hardened = { ...podLevel, ...container?.securityContext };
		expect(Object.keys(hardened).length).toBeGreaterThan(4);
		expect(kserveContainer?.securityContext).toMatchObject(hardened);
		expect(kserveContainer?.securityContext?.privileged ?? false).toBe(false);
		expect(kserveContainer?.resources?.requests?.cpu).toBeDefined();
		expect(kserveContainer?.resources?.requests?.memory).toBeDefined();
		expect(kserveContainer?.resources?.limits?.memory).toBeDefined();
		// Knative allows no lifecycle hooks (its queue-proxy drains instead) and only some volumes.
		expect(kserveContainer?.lifecycle).toBeUndefined();
		for (const volume of runtimeSpec?.volumes ?? []) {
			const sources = Object.keys(volume).filter((k) => k !== "name");
			expect(["emptyDir", "secret", "configMap", "projected"]).toEqual(
				expect.arrayContaining(sources),
			);
		}
		for (const mount of kserveContainer?.volumeMounts ?? []) {
			expect(["/", "/dev", "/dev/log"]).not.toContain(normalize(mount.mountPath));
		}
	});
});

/**
 * The KServe layout run for real: a folder holding only NAME.onnx (no manifest.json), the
 * runtime's environment, the image's runtime. The probes and the model's routes must answer as
 * the manifest promises. The port and address are the test's; the model is one of the repository's.
 */
describe("deploy/kserve.yaml, served", () => {
	const MODEL_FILE = join(PROJECT_ROOT, "models/mlp.onnx");
	const API_KEY = "kserve-test-key-0123456789";
	let server: RunningServer | undefined;
	let dir = "";

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "kserve-models-"));
		copyFileSync(MODEL_FILE, join(dir, `${servedModelName()}.onnx`));
		const env: Record<string, string> = Object.fromEntries(
			kserveEnv.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
		);
		// With the optional Secret present: the probes must stay open.
		if (kserveEnv.some((e) => e.name === "API_KEY")) env.API_KEY = API_KEY;
		server = await startServer(kserveRuntime, {
			...env,
			HOST: "127.0.0.1",
			PORT: "0",
			MODELS_DIR: dir,
		});
	}, 30_000);

	afterAll(async () => {
		await server?.stop();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	const get = (path: string, headers: Record<string, string> = {}) =>
		fetch(`${server?.url}${path}`, { headers });

	test("the readiness probe turns 200, the liveness probe answers 200", async () => {
		const ready = kserveContainer?.readinessProbe?.httpGet?.path ?? "";
		const deadline = Date.now() + 20_000;
		let status = 0;
		while (Date.now() < deadline) {
			status = (await get(ready).catch(() => null))?.status ?? 0;
			if (status === 200) break;
			await Bun.sleep(50);
		}
		expect(status).toBe(200);
		expect((await get(kserveContainer?.livenessProbe?.httpGet?.path ?? "")).status).toBe(200);
		const startup = kserveContainer?.startupProbe?.httpGet?.path;
		if (startup) expect((await get(startup)).status).toBe(200);
	}, 30_000);

	test("the model is served by the name of its file, at /v2/models/NAME/infer", async () => {
		const auth = { authorization: `Bearer ${API_KEY}` };
		const name = servedModelName() ?? "";
		expect((await get(`/v2/models/${name}/ready`, auth)).status).toBe(200);
		const metadata = (await (await get(`/v2/models/${name}`, auth)).json()) as {
			name: string;
			inputs: { name: string; datatype: string; shape: number[] }[];
		};
		expect(metadata.name).toBe(name);
		const [input] = metadata.inputs;
		const features = input?.shape.at(-1) ?? 0;
		expect(features).toBeGreaterThan(0);
		const response = await fetch(`${server?.url}/v2/models/${name}/infer`, {
			method: "POST",
			headers: { ...auth, "content-type": "application/json" },
			body: JSON.stringify({
				inputs: [
					{
						name: input?.name,
						shape: [1, features],
						datatype: input?.datatype,
						data: Array.from({ length: features }, () => 0),
					},
				],
			}),
		});
		expect(response.status).toBe(200);
		const body = (await response.json()) as { model_name: string; outputs: unknown[] };
		expect(body.model_name).toBe(name);
		expect(body.outputs.length).toBeGreaterThan(0);
	});
});

// --- The HEALTHCHECK commands, run for real ---------------------------------------------------------

const MODELS_PRESENT = existsSync(join(PROJECT_ROOT, "models/manifest.json"));

/** A runtime's HEALTHCHECK argv with the binary from node_modules/.bin. */
function healthcheck(runtime: Runtime): string[] {
	const { rest } = splitOptions(last(effectiveInstructions(runtime), "HEALTHCHECK")?.args ?? "");
	const [binary = "", ...args] = execForm(rest.slice(4));
	return [join(PROJECT_ROOT, "node_modules/.bin", binary), ...args];
}

describe("HEALTHCHECK commands", () => {
	let server: RunningServer | undefined;
	let notReady: ReturnType<typeof Bun.serve> | undefined;
	let closedPort = "";

	beforeAll(async () => {
		const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
		closedPort = String(probe.port);
		await probe.stop(true);
		notReady = Bun.serve({
			port: 0,
			hostname: "127.0.0.1",
			fetch: (request) =>
				new URL(request.url).pathname === "/ready"
					? new Response("warming", { status: 503 })
					: new Response("ok"),
		});
		if (!MODELS_PRESENT) return;
		server = await startServer("node", { HOST: "127.0.0.1" });
		await waitReady(server.url);
		// startServer and waitReady may each take their 20 s on a slow machine.
	}, 60_000);

	afterAll(async () => {
		await notReady?.stop(true);
		await server?.stop();
	});

	test.if(MODELS_PRESENT).each(RUNTIMES)("%s: exits 0 when /ready answers 200", async (runtime) => {
		const port = new URL(server?.url ?? "").port;
		const result = await runToExit(healthcheck(runtime), { PORT: port });
		expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
	});

	test.each(RUNTIMES)("%s: exits 1 when /ready answers 503", async (runtime) => {
		const result = await runToExit(healthcheck(runtime), { PORT: String(notReady?.port) });
		expect(result.code).toBe(1);
	});

	test.each(RUNTIMES)("%s: exits 1 when nothing listens", async (runtime) => {
		const result = await runToExit(healthcheck(runtime), { PORT: closedPort });
		expect(result.code).toBe(1);
	});
});
