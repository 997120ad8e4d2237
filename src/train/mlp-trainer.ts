import type { MlpParams } from "../inference/mlp.ts";
import { logLoss } from "./metrics.ts";
import { mulberry32, shuffleInPlace } from "./random.ts";
import { stratifiedSplit } from "./split.ts";

export interface MlpOptions {
	hiddenSize: number;
	learningRate: number;
	batchSize: number;
	maxEpochs: number;
	/** Stop after this many epochs without a better validation loss, keeping the best weights. */
	patience: number;
	/**
	 * The share of the given rows carved off (stratified) to decide early stopping, so the caller's
	 * held-out test rows never steer training.
	 */
	validationFraction: number;
	/** L2 penalty added to the weights' gradient (not the biases'). */
	weightDecay: number;
	seed: number;
}

export const DEFAULT_MLP_OPTIONS: MlpOptions = {
	hiddenSize: 32,
	learningRate: 0.01,
	batchSize: 32,
	maxEpochs: 300,
	patience: 25,
	validationFraction: 0.2,
	weightDecay: 0,
	seed: 7,
};

export interface MlpTrainingResult {
	params: MlpParams;
	/** Mean training loss per epoch, measured on the weights as they were during the epoch. */
	trainLoss: number[];
	validationLoss: number[];
	/** 1-based epoch whose weights were kept. */
	bestEpoch: number;
	rows: { fit: number; validation: number };
}

/** Weights in float64 while training; rounded to float32 only on export. */
interface Weights {
	w1: Float64Array;
	b1: Float64Array;
	w2: Float64Array;
	b2: Float64Array;
}

function initialWeights(inputs: number, hidden: number, random: () => number): Weights {
	// PyTorch's nn.Linear default: uniform in +-1/sqrt(fan_in) for weights and biases alike.
	const uniform = (fanIn: number, length: number): Float64Array => {
		const bound = 1 / Math.sqrt(fanIn);
		return Float64Array.from({ length }, () => (random() * 2 - 1) * bound);
	};
	return {
		w1: uniform(inputs, hidden * inputs),
		b1: uniform(inputs, hidden),
		w2: uniform(hidden, hidden),
		b2: uniform(hidden, 1),
	};
}

const copyWeights = (w: Weights): Weights => ({
	w1: w.w1.slice(),
	b1: w.b1.slice(),
	w2: w.w2.slice(),
	b2: w.b2.slice(),
});

const zerosLike = (w: Weights): Weights => ({
	w1: new Float64Array(w.w1.length),
	b1: new Float64Array(w.b1.length),
	w2: new Float64Array(w.w2.length),
	b2: new Float64Array(w.b2.length),
});

/** Survival probability of one row; fills `hidden` with the post-ReLU activations. */
function forward(w: Weights, x: Float32Array, row: number, inputs: number, hidden: Float64Array) {
	let logit = w.b2[0];
	for (let j = 0; j < hidden.length; j++) {
		let a = w.b1[j];
		for (let i = 0; i < inputs; i++) a += w.w1[j * inputs + i] * x[row * inputs + i];
		const h = Math.max(a, 0);
		hidden[j] = h;
		logit += h * w.w2[j];
	}
	return 1 / (1 + Math.exp(-logit));
}

function predictRows(
	w: Weights,
	x: Float32Array,
	rows: readonly number[],
	inputs: number,
): number[] {
	const hidden = new Float64Array(w.b1.length);
	return rows.map((row) => forward(w, x, row, inputs, hidden));
}

/**
 * Trains Linear -> ReLU -> Linear -> Sigmoid on binary cross-entropy with Adam and mini-batches,
 * early-stopping on a validation slice of the given rows.
 */
export function trainMlp(
	x: Float32Array,
	labels: readonly number[],
	inputs: number,
	options: MlpOptions = DEFAULT_MLP_OPTIONS,
): MlpTrainingResult {
	const { hiddenSize, learningRate, batchSize, maxEpochs, patience, weightDecay } = options;
	const random = mulberry32(options.seed);
	const carve = stratifiedSplit(labels, options.validationFraction, options.seed);
	const fitRows = carve.train;
	const validationRows = carve.test;
	const validationLabels = validationRows.map((row) => labels[row]);

	const weights = initialWeights(inputs, hiddenSize, random);
	const grad = zerosLike(weights);
	const moment1 = zerosLike(weights);
	const moment2 = zerosLike(weights);
	const beta1 = 0.9;
	const beta2 = 0.999;
	const epsilon = 1e-8;
	let step = 0;

	const adamUpdate = (): void => {
		step++;
		const correction1 = 1 - beta1 ** step;
		const correction2 = 1 - beta2 ** step;
		for (const key of ["w1", "b1", "w2", "b2"] as const) {
			const p = weights[key];
			const g = grad[key];
			const m = moment1[key];
			const v = moment2[key];
			const decay = key === "w1" || key === "w2" ? weightDecay : 0;
			for (let i = 0; i < p.length; i++) {
				const gi = g[i] + decay * p[i];
				m[i] = beta1 * m[i] + (1 - beta1) * gi;
				v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
				p[i] =
					p[i] - (learningRate * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + epsilon);
			}
		}
	};

	const hidden = new Float64Array(hiddenSize);
	const order = [...fitRows];
	const trainLoss: number[] = [];
	const validationLoss: number[] = [];
	let best = copyWeights(weights);
	let bestLoss = Number.POSITIVE_INFINITY;
	let bestEpoch = 0;
	for (let epoch = 1; epoch <= maxEpochs && epoch - bestEpoch <= patience; epoch++) {
		shuffleInPlace(order, random);
		let epochLoss = 0;
		for (let start = 0; start < order.length; start += batchSize) {
			const batch = order.slice(start, start + batchSize);
			for (const key of ["w1", "b1", "w2", "b2"] as const) grad[key].fill(0);
			for (const row of batch) {
				const p = forward(weights, x, row, inputs, hidden);
				const y = labels[row];
				epochLoss -= y === 1 ? Math.log(Math.max(p, 1e-15)) : Math.log(Math.max(1 - p, 1e-15));
				// d(BCE)/d(logit) of a sigmoid output is simply p - y.
				const dLogit = (p - y) / batch.length;
				grad.b2[0] += dLogit;
				for (let j = 0; j < hiddenSize; j++) {
					const h = hidden[j];
					grad.w2[j] += dLogit * h;
					if (h <= 0) continue;
					const dHidden = dLogit * weights.w2[j];
					grad.b1[j] += dHidden;
					for (let i = 0; i < inputs; i++) {
						const at = j * inputs + i;
						grad.w1[at] = grad.w1[at] + dHidden * x[row * inputs + i];
					}
				}
			}
			adamUpdate();
		}
		trainLoss.push(epochLoss / order.length);
		const loss = logLoss(validationLabels, predictRows(weights, x, validationRows, inputs));
		validationLoss.push(loss);
		if (loss < bestLoss) {
			bestLoss = loss;
			bestEpoch = epoch;
			best = copyWeights(weights);
		}
	}

	const float32 = (values: Float64Array): number[] => Array.from(values, (v) => Math.fround(v));
	return {
		params: {
			format: "mlp",
			inputSize: inputs,
			hiddenSize,
			hiddenActivation: "relu",
			outputActivation: "sigmoid",
			hiddenWeights: float32(best.w1),
			hiddenBias: float32(best.b1),
			outputWeights: float32(best.w2),
			outputBias: Math.fround(best.b2[0]),
		},
		trainLoss,
		validationLoss,
		bestEpoch,
		rows: { fit: fitRows.length, validation: validationRows.length },
	};
}
