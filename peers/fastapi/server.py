"""The FastAPI peer: the Titanic MLP served the way a Python team would write it.

One ``async def`` endpoint, pydantic validation, numpy inference, uvicorn with uvloop and
httptools, one worker. It reads the same two files as the TypeScript service,
``models/manifest.json`` (feature order, sex codes, Age median, Age/Fare scaler, the MLP's
scaling) and ``models/mlp.json`` (the weights), so nothing here restates a fitted constant.

    POST /predict/mlp   {"Pclass","Sex","Age","SibSp","Parch","Fare"}
                        -> {"model": "mlp", "prediction": 0 | 1, "probability": p}
    GET  /health        -> {"status": "ok"}

Environment: HOST (default 127.0.0.1), PORT (default 8000; 0 picks a free port, which the
"Uvicorn running on" line names), MODELS_DIR (default: the repository's models/).
"""

import hashlib
import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from typing import Literal, Optional, Union

INSTALL = "install the Debian packages with: bash peers/fastapi/setup.sh"


def fail(message: str) -> None:
    """One line on stderr, exit status 1: every startup problem ends this way."""
    sys.stderr.write(f"fastapi peer: {message}\n")
    sys.exit(1)


REQUIRED = ("fastapi", "uvicorn", "uvloop", "httptools", "numpy")
missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
if missing:
    fail(f"{sys.executable} lacks {', '.join(missing)}; {INSTALL}")
try:
    import httptools  # noqa: F401  (uvicorn imports it lazily; a broken one fails here instead)
    import numpy as np
    import uvicorn
    import uvloop  # noqa: F401  (likewise for loop="uvloop")
    from fastapi import FastAPI, Request
    from pydantic import BaseModel, confloat, conint
except ImportError as error:  # present but broken, or a dependency of one is missing
    fail(f"{sys.executable} cannot import {error.name or error}; {INSTALL}")

# Strict types: a number sent as a string ("3") is refused, not coerced, and so is true/false.
# A number field takes a JSON integer or a fraction (pydantic 1's StrictFloat alone refuses 22).
ClassNumber = conint(strict=True, ge=1, le=3)
Count = conint(strict=True, ge=0, le=20)
Years = Union[conint(strict=True, gt=0, le=120), confloat(strict=True, gt=0, le=120)]
Price = Union[conint(strict=True, ge=0, le=10000), confloat(strict=True, ge=0, le=10000)]


class Passenger(BaseModel):
    Pclass: ClassNumber
    Sex: Literal["male", "female"]
    Age: Optional[Years] = None  # null or absent: the training median, from the manifest
    SibSp: Count
    Parch: Count
    Fare: Price

    class Config:
        extra = "forbid"  # a misspelt "age" is an error, never a silently imputed Age


class Prediction(BaseModel):
    model: Literal["mlp"]
    prediction: Literal[0, 1]
    probability: float


class Mlp:
    """Linear(inputSize -> hiddenSize) -> ReLU -> Linear(hiddenSize -> 1) -> Sigmoid.

    The arithmetic is src/inference/mlp.ts's: a float32 input row, float64 accumulation over the
    float32 weights (which mlp.json holds exactly), the probability rounded to float32.
    """

    def __init__(self, params: dict, input_size: int) -> None:
        if params.get("format") != "mlp":
            raise ValueError('"format" is not "mlp"')
        if (params.get("hiddenActivation"), params.get("outputActivation")) != ("relu", "sigmoid"):
            raise ValueError("only a relu hidden layer and a sigmoid output are supported")
        if params["inputSize"] != input_size:
            raise ValueError(
                f"inputSize {params['inputSize']}, but the manifest has {input_size} features"
            )
        hidden = params["hiddenSize"]
        # Row-major [hiddenSize, inputSize]: hidden unit j reads hiddenWeights[j * inputSize + i].
        self.hidden_weights = np.array(params["hiddenWeights"], dtype=np.float64).reshape(
            hidden, input_size
        )
        self.hidden_bias = np.array(params["hiddenBias"], dtype=np.float64).reshape(hidden)
        self.output_weights = np.array(params["outputWeights"], dtype=np.float64).reshape(hidden)
        self.output_bias = float(params["outputBias"])

    def probability(self, x: "np.ndarray") -> float:
        hidden = self.hidden_weights @ x + self.hidden_bias
        np.maximum(hidden, 0.0, out=hidden)
        logit = self.output_bias + float(hidden @ self.output_weights)
        try:
            p = 1.0 / (1.0 + math.exp(-logit))
        except OverflowError:  # exp(-logit) beyond float64: the sigmoid is 0, as 1 / Infinity
            p = 0.0
        return float(np.float32(p))


def row_encoder(manifest: dict):
    """Passenger -> the float32 model input, in the manifest's feature order.

    As src/inference/preprocess.ts: Sex by the manifest's codes, a missing Age is the training
    median, and with the model's scaling "standard" the features the scaler names (Age, Fare) are
    standardised, in float64, before the row becomes float32.
    """
    pre = manifest["preprocessing"]
    scaling = manifest["models"]["mlp"]["scaling"]
    if scaling not in ("standard", "none"):
        raise ValueError(f'models.mlp.scaling is {scaling!r}, not "standard" or "none"')
    sex_code = {sex: float(code) for sex, code in pre["sex"].items()}
    age_median = float(pre["ageMedian"])
    scaler = pre["scaler"] if scaling == "standard" else {}
    raw = {
        "Pclass": lambda p: p.Pclass,
        "Sex": lambda p: sex_code[p.Sex],
        "Age": lambda p: age_median if p.Age is None else p.Age,
        "SibSp": lambda p: p.SibSp,
        "Parch": lambda p: p.Parch,
        "Fare": lambda p: p.Fare,
    }
    unknown = [name for name in manifest["features"] if name not in raw]
    if unknown:
        raise ValueError(f"the manifest's features {', '.join(unknown)} are not passenger fields")

    def feature(name: str):
        value = raw[name]
        if name not in scaler:
            return value
        mean, std = float(scaler[name]["mean"]), float(scaler[name]["std"])
        return lambda p: (value(p) - mean) / std

    features = [feature(name) for name in manifest["features"]]
    return lambda p: np.array([f(p) for f in features], dtype=np.float32)


def load(models_dir: Path):
    """The encoder and the net, from the manifest and the params file it names (sha256-checked)."""
    manifest_file = models_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text("utf-8"))
        entry = manifest["models"]["mlp"]
        params_file = models_dir / entry["params"]["file"]
        data = params_file.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["params"]["sha256"]:
            raise ValueError(f"{params_file}: sha256 differs from the manifest's")
        return row_encoder(manifest), Mlp(json.loads(data), len(manifest["features"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"cannot load the model from {models_dir}: {type(error).__name__}: {error}")


def create_app(encode, mlp: Mlp) -> FastAPI:
    app = FastAPI(title="Titanic survival, FastAPI peer")

    @app.post("/predict/mlp")
    async def predict_mlp(passenger: Passenger) -> Prediction:
        probability = mlp.probability(encode(passenger))
        prediction = 1 if probability >= 0.5 else 0
        return Prediction(model="mlp", prediction=prediction, probability=probability)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # The bench's floor-post: the body read whole, a constant answer, as our BENCH_ROUTES route.
    @app.post("/bench/floor-post")
    async def floor_post(request: Request) -> dict[str, str]:
        await request.body()
        return {"status": "ok"}

    return app


def main() -> None:
    host = os.environ.get("HOST") or "127.0.0.1"
    port_text = os.environ.get("PORT") or "8000"
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        fail(f"PORT must be a whole number 0-65535, not {port_text!r}")
    repository = Path(__file__).resolve().parents[2]
    models_dir = Path(os.environ.get("MODELS_DIR") or repository / "models")
    encode, mlp = load(models_dir)
    uvicorn.run(
        create_app(encode, mlp),
        host=host,
        port=int(port_text),
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
    )


if __name__ == "__main__":
    main()
