"""The recommender signals, the weighted hybrid over them and its explanations.

A :class:`RecModel` is fitted once (see :func:`.recommend.fit_model`) on confidence-weighted
customer × product interactions and then answers one customer in a few milliseconds:

* **collaborative** — implicit-feedback ALS (Hu, Koren & Volinsky 2008) trained with
  ``implicit``; score = user factors · item factors. With a live session the customer's
  factors are re-solved by least squares from history + session (what implicit's
  ``recalculate_user`` computes), with the item factors fixed: no retraining.
* **item_item** — co-occurrence: cosine similarity between two products' sets of
  baskets (completed orders, the baskets of :func:`.affinity.pair_rules`), pruned to each
  product's strongest neighbours; score = Σ over the customer's products of
  log(1 + confidence) × similarity; reason "bought together with Trail Shoes you bought".
  Data without multi-product orders falls back to customers' whole histories as baskets
  (reason "often chosen with …").
* **content** — TF-IDF over name, category, subcategory, brand and description (or MiniLM
  sentence embeddings when the ``nlp`` extra is importable); score = Σ over the customer's
  products of log(1 + confidence) × cosine similarity. A product the customer already
  viewed or carted matches itself; its reason then reads "you viewed this before".
* **segment** — share of the customer's segment who interacted with the product
  (overall popularity when there are no segment labels or the customer has none).
* **session** — what goes with the products viewed or carted in the live session: the
  sum of their item-item co-occurrence and their content similarity (each scaled to
  [0, 1]), so a session pulls the ranking toward its own kind of product.

**Hybrid.** Each signal's scores for one customer are normalised to [0, 1] by dividing by
that customer's best score for the signal (negative scores count as 0). The hybrid score
is Σ weight × normalised score. A signal's **share** of an item's score is its term divided
by the sum, so shares of one item always sum to 100 %; a signal with weight 0 has no term,
hence no reason. The reason text names what actually drove the term: the customer's (or
session's) product with the largest contribution for item-item, content and session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl
import scipy.sparse as sp

from .errors import ShopperError

__all__ = [
    "SIGNALS",
    "SIGNAL_LABELS",
    "KIND_CODES",
    "RecModel",
    "Recommendations",
    "normalise_rows",
    "percent_shares",
]

#: Signals of the hybrid, in display order.
SIGNALS: tuple[str, ...] = ("collaborative", "item_item", "content", "segment", "session")
#: How each signal is named in reasons.
SIGNAL_LABELS = {"collaborative": "collaborative", "item_item": "item-item", "content": "content",
                 "segment": "segment", "popularity": "popularity", "session": "session"}
#: Interaction kinds, strongest last; the code of the strongest kind is kept per pair.
KIND_CODES = {"view": 1, "add_to_cart": 2, "purchase": 3}
_KIND_VERB = {1: "viewed", 2: "carted", 3: "bought"}

ProgressFn = Callable[[str, float | None], None]


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row to [0, 1] by its maximum; negatives become 0, an all-zero row stays 0."""
    s = np.maximum(scores, 0, dtype=np.float32)
    top = s.max(axis=-1, keepdims=True)
    return np.divide(s, top, out=np.zeros_like(s), where=top > 0)


def percent_shares(shares: Sequence[float]) -> list[int]:
    """Whole percentages summing to exactly 100 (largest-remainder rounding)."""
    raw = np.asarray(shares, dtype=float) * 100
    if raw.sum() <= 0:
        return [0] * len(raw)
    floor = np.floor(raw).astype(int)
    order = np.argsort(-(raw - floor), kind="stable")
    floor[order[: 100 - floor.sum()]] += 1
    return floor.tolist()


@dataclass(frozen=True)
class Recommendations:
    """One shopper's recommendations.

    Attributes:
        customer_id: The customer, or None for an anonymous session.
        items: rank, product_id, name, category, price, score (hybrid, Σ weights × normalised
            scores), ``share_<signal>`` (fraction of the score per signal), reasons
            (list of {signal, share, percent, text}, largest first) and why (the reasons as
            one line, e.g. "bought together with Trail Shoes you bought (item-item, 46 %)"). With no
            segment labels the segment signal is overall popularity and reads
            "popular with all shoppers (popularity, 15 %)".
        cold_start: True when the shopper has no history: content + session + popularity.
        signals: Signals that contributed (weight > 0 and data available).
        note: One line for the screen ("cold start: …", "session of 3 products applied").
    """

    customer_id: str | None
    items: pl.DataFrame
    cold_start: bool
    signals: tuple[str, ...]
    note: str


@dataclass
class RecModel:
    """A fitted hybrid recommender (picklable; cached by :func:`.recommend.fit_recommender`).

    Column ``j`` of every item matrix is row ``j`` of :attr:`items`; row ``u`` of every user
    matrix is ``customers[u]``.
    """

    items: pl.DataFrame
    customers: np.ndarray
    user_items: sp.csr_matrix
    user_kind: sp.csr_matrix
    user_factors: np.ndarray
    item_factors: np.ndarray
    als_regularization: float
    als_alpha: float
    cooc: sp.csr_matrix
    cooc_basis: str
    content: sp.csr_matrix | np.ndarray
    content_backend: str
    popularity: np.ndarray
    event_weights: dict[str, float]
    segment_pop: np.ndarray | None = None
    segment_of_user: np.ndarray | None = None
    segment_names: list[str] = field(default_factory=list)
    _user_index: dict[str, int] | None = field(default=None, repr=False)
    _item_index: dict[str, int] | None = field(default=None, repr=False)
    _yty: np.ndarray | None = field(default=None, repr=False)

    # -- lookups ----------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return self.items.height

    @property
    def user_index(self) -> dict[str, int]:
        if self._user_index is None:
            self._user_index = {c: i for i, c in enumerate(self.customers.tolist())}
        return self._user_index

    @property
    def item_index(self) -> dict[str, int]:
        if self._item_index is None:
            self._item_index = {p: i for i, p in enumerate(self.items.get_column("product_id").to_list())}
        return self._item_index

    def with_segments(self, labels: pl.DataFrame | None) -> RecModel:
        """This model with segment popularity from ``labels`` (customer_id → segment_id and
        optionally ``segment``, its name); None drops segments (overall popularity)."""
        if labels is None or labels.is_empty():
            return replace(self, segment_pop=None, segment_of_user=None, segment_names=[])
        names = labels.select(
            pl.col("segment_id").cast(pl.Int64),
            (pl.col("segment") if "segment" in labels.columns else pl.col("segment_id")).cast(pl.String).alias("segment"),
        ).unique("segment_id").sort("segment_id")
        seg_ids = names.get_column("segment_id").to_numpy()
        # each model customer's segment (the last label given for it), as a position in seg_ids;
        # -1 without one. A join, not a Python loop: 0.16 s at L, holding the GIL
        lab = labels.select(pl.col("customer_id").cast(pl.String), pl.col("segment_id").cast(pl.Int64))
        sid = (
            pl.DataFrame({"customer_id": pl.Series(self.customers, dtype=pl.String)})
            .join(lab.unique("customer_id", keep="last", maintain_order=True), on="customer_id", how="left",
                  maintain_order="left")
            .get_column("segment_id")
        )
        seg_of_user = np.full(len(self.customers), -1, dtype=np.int32)
        seg_of_user[sid.is_not_null().to_numpy()] = np.searchsorted(seg_ids, sid.drop_nulls().to_numpy())
        # customers of each segment who touched each item, counted over the matrix's entries a
        # block of customers at a time: a sparse product (and one count over all 6.8 M entries at
        # L) held the GIL for 35-55 ms at a time, which the UI thread waited for
        ui = self.user_items
        if not ui.has_canonical_format:
            ui = ui.copy()
            ui.sum_duplicates()
        n_users, n_seg, n_items = ui.shape[0], len(seg_ids), ui.shape[1]
        counts = np.zeros(n_seg * n_items, dtype=np.int64)
        block = max(1, n_users * (1 << 19) // max(ui.nnz, 1))  # ~0.5 M entries per block
        for lo in range(0, n_users, block):
            hi = min(lo + block, n_users)
            start, stop = ui.indptr[lo], ui.indptr[hi]
            seg = np.repeat(seg_of_user[lo:hi], np.diff(ui.indptr[lo:hi + 1]))
            keep = (ui.data[start:stop] > 0) & (seg >= 0)
            counts += np.bincount(seg[keep].astype(np.int64) * n_items + ui.indices[start:stop][keep],
                                  minlength=n_seg * n_items)
        counts = counts.reshape(n_seg, n_items).astype(np.float32)
        sizes = np.maximum(np.bincount(seg_of_user[seg_of_user >= 0], minlength=n_seg), 1).astype(np.float32)
        return replace(self, segment_pop=counts / sizes[:, None], segment_of_user=seg_of_user,
                       segment_names=names.get_column("segment").to_list())

    # -- raw signal scores for a batch of known users (evaluation) ----------------------
    def batch_scores(self, rows: np.ndarray, signals: Sequence[str]) -> dict[str, np.ndarray]:
        """Normalised scores (len(rows) × items, float32) per signal for training users."""
        x = self.user_items[rows]
        out: dict[str, np.ndarray] = {}
        for s in signals:
            if s == "collaborative":
                raw = self.user_factors[rows] @ self.item_factors.T
            elif s == "item_item":
                raw = (_history_weights(x) @ self.cooc).toarray()
            elif s == "content":
                raw = self._content_scores(_history_weights(x))
            elif s == "segment":
                raw = self._segment_rows(rows)
            elif s == "popularity":
                raw = np.broadcast_to(self.popularity, (len(rows), self.n_items))
            else:
                raise ShopperError(f"Unknown signal '{s}' for batch scoring.")
            out[s] = normalise_rows(np.asarray(raw, dtype=np.float32))
        return out

    def _segment_rows(self, rows: np.ndarray) -> np.ndarray:
        if self.segment_pop is None or self.segment_of_user is None:
            return np.broadcast_to(self.popularity, (len(rows), self.n_items))
        seg = self.segment_of_user[rows]
        table = np.vstack([self.segment_pop, self.popularity[None, :]])
        return table[np.where(seg >= 0, seg, len(self.segment_pop))]

    def _content_scores(self, weights: sp.csr_matrix) -> np.ndarray:
        """Σᵢ wᵢ cos(i, j) over each row's products i — including j itself when the shopper
        already viewed or carted it (the reason then says so)."""
        scores = (weights @ self.content) @ self.content.T
        return np.asarray(scores.todense() if sp.issparse(scores) else scores, dtype=np.float32)

    # -- session fold-in ----------------------------------------------------------------
    def fold_in(self, item_idx: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """User factors for these (item, raw confidence) pairs by the ALS least-squares
        step with item factors fixed — the same solve as implicit's ``recalculate_user``:
        (YᵀY + Yᵀ(Cᵘ − I)Y + λI) xᵤ = YᵀCᵘp, with Cᵘ = alpha × confidence."""
        y = self.item_factors.astype(np.float64)
        if self._yty is None:
            self._yty = y.T @ y
        c = self.als_alpha * np.asarray(confidence, dtype=np.float64)
        yi = y[item_idx]
        a = self._yty + (yi.T * (c - 1.0)) @ yi + self.als_regularization * np.eye(y.shape[1])
        b = yi.T @ c
        return np.linalg.solve(a, b).astype(np.float32)

    # -- one shopper ----------------------------------------------------------------------
    def recommend(
        self,
        customer_id: str | None,
        *,
        n: int = 10,
        weights: Mapping[str, float],
        session: Sequence[str | tuple[str, str]] = (),
        session_boost: float = 3.0,
        include_purchased: bool = False,
    ) -> Recommendations:
        """Top ``n`` products for one shopper with reasons (see the module docstring).

        Args:
            customer_id: A customer id; unknown or None means a cold start.
            n: How many products.
            weights: Signal → weight (missing signals weigh 0).
            session: Product ids viewed in the live session, or (product_id, kind) pairs
                with kind "view" or "add_to_cart". Unknown ids are ignored.
            session_boost: Multiplier on session interactions' confidence when the
                customer's ALS factors are re-solved (recent intent outweighs history).
            include_purchased: Keep products the customer already bought.
        """
        u = self.user_index.get(customer_id) if customer_id is not None else None
        sess_idx, sess_kind = self._parse_session(session)
        cold = u is None
        if u is not None:
            row = self.user_items[u]
            hist_idx, hist_conf = row.indices, row.data
            hist_kind = self.user_kind[u].data
        else:
            hist_idx = np.zeros(0, np.int32)
            hist_conf = np.zeros(0, np.float32)
            hist_kind = np.zeros(0, np.int8)
        sess_conf = np.array([self.event_weights["add_to_cart" if k == 2 else "view"] for k in sess_kind], np.float32)

        active = {s: float(weights.get(s, 0.0)) for s in SIGNALS if float(weights.get(s, 0.0)) > 0}
        if cold:
            active = {s: w for s, w in active.items() if s in ("content", "segment", "session")}
        if not len(sess_idx):
            active.pop("session", None)
        if cold and not active:
            active = {"segment": 1.0}
        if not active:
            raise ShopperError("Every hybrid weight is zero: give at least one signal a weight above 0.")
        raw: dict[str, np.ndarray] = {}
        if "collaborative" in active:
            if len(sess_idx):
                idx = np.concatenate([hist_idx, sess_idx])
                conf = np.concatenate([hist_conf, session_boost * sess_conf])
                idx, inv = np.unique(idx, return_inverse=True)
                factors = self.fold_in(idx, np.bincount(inv, weights=conf))
            else:
                factors = self.user_factors[u]
            raw["collaborative"] = self.item_factors @ factors
        hist_w = np.log1p(hist_conf).astype(np.float32)
        # a cold-start profile is the session itself
        prof_idx, prof_w, prof_kind = (sess_idx, np.log1p(sess_conf), sess_kind) if cold else (hist_idx, hist_w, hist_kind)
        if "item_item" in active:
            raw["item_item"] = np.asarray(self.cooc[hist_idx].T @ hist_w).ravel()
        if "content" in active:
            raw["content"] = self._content_dense(prof_idx, prof_w)
        if "segment" in active:
            raw["segment"] = self._segment_rows(np.array([u]))[0] if u is not None else self.popularity
        sess_w = np.log1p(sess_conf).astype(np.float32)
        if "session" in active:
            together = normalise_rows(np.asarray(self.cooc[sess_idx].T @ sess_w).ravel().astype(np.float32))
            alike = normalise_rows(self._content_dense(sess_idx, sess_w).astype(np.float32))
            raw["session"] = together + alike
        norm = {s: normalise_rows(v.astype(np.float32)) for s, v in raw.items()}
        signals = tuple(s for s in SIGNALS if s in norm and norm[s].max() > 0)
        terms = np.vstack([active[s] * norm[s] for s in signals]) if signals else np.zeros((1, self.n_items), np.float32)
        total = terms.sum(axis=0)

        exclude = np.zeros(self.n_items, dtype=bool)
        if not include_purchased and u is not None:
            exclude[hist_idx[hist_kind == KIND_CODES["purchase"]]] = True
        exclude[sess_idx] = True
        total = np.where(exclude, -np.inf, total)
        n = max(0, min(n, int((~exclude).sum())))
        top = np.argpartition(-total, n - 1)[:n] if n else np.zeros(0, np.int64)
        top = top[np.lexsort((top, -total[top]))]
        shares = terms[:, top] / np.where(total[top] > 0, total[top], 1.0)

        reasons, why = self._reasons(top, signals, shares, u, prof_idx, prof_w, prof_kind, sess_idx, sess_kind)
        share_of = {s: shares[signals.index(s)] if s in signals else np.zeros(len(top)) for s in SIGNALS}
        frame = self.items[top.tolist()].select(
            pl.int_range(1, len(top) + 1, dtype=pl.Int32).alias("rank"), "product_id", "name", "category", "price",
        ).with_columns(
            pl.Series("score", total[top], dtype=pl.Float64),
            *[pl.Series(f"share_{s}", v, dtype=pl.Float64) for s, v in share_of.items()],
            pl.Series("reasons", reasons, dtype=pl.List(pl.Struct({"signal": pl.String, "share": pl.Float64,
                                                                    "percent": pl.Int64, "text": pl.String}))),
            pl.Series("why", why, dtype=pl.String),
        )
        if cold:
            note = ("cold start: no purchase history — content + session + popularity"
                    if len(sess_idx) else "cold start: no history and no session — most popular products")
        else:
            note = f"history of {len(hist_idx)} products" + (f", live session of {len(sess_idx)} applied" if len(sess_idx) else "")
        return Recommendations(customer_id, frame, cold, signals, note)

    def _parse_session(self, session: Sequence[str | tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        idx: dict[int, int] = {}
        for entry in session:
            pid, kind = (entry, "view") if isinstance(entry, str) else entry
            j = self.item_index.get(pid)
            if j is not None:
                idx[j] = max(idx.get(j, 0), KIND_CODES.get(kind, 1) if kind != "purchase" else 2)
        keys = np.fromiter(idx, dtype=np.int64, count=len(idx))
        return keys, np.array([idx[k] for k in keys.tolist()], dtype=np.int8)

    def _content_dense(self, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        if not len(idx):
            return np.zeros(self.n_items, np.float32)
        weights = sp.csr_matrix((np.asarray(w, np.float32), (np.zeros(len(idx), np.int64), idx)), shape=(1, self.n_items))
        return self._content_scores(weights)[0]

    def _content_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity between products a (rows) and b (columns)."""
        m = self.content[a] @ self.content[b].T
        return np.asarray(m.todense() if sp.issparse(m) else m, dtype=np.float32)

    def _reasons(self, top, signals, shares, u, prof_idx, prof_w, prof_kind, sess_idx, sess_kind):
        names = self.items.get_column("name").fill_null(self.items.get_column("product_id"))
        drivers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if "item_item" in signals and u is not None:
            row = self.user_items[u]
            contrib = self.cooc[row.indices][:, top].toarray() * np.log1p(row.data)[:, None]
            drivers["item_item"] = (row.indices[contrib.argmax(axis=0)], self.user_kind[u].data[contrib.argmax(axis=0)])
        if "content" in signals and len(prof_idx):
            contrib = self._content_pairs(prof_idx, top) * np.asarray(prof_w, np.float32)[:, None]
            drivers["content"] = (prof_idx[contrib.argmax(axis=0)], prof_kind[contrib.argmax(axis=0)])
        if "session" in signals:
            together = self.cooc[sess_idx][:, top].toarray()
            alike = self._content_pairs(sess_idx, top)
            contrib = together / max(float(together.max()), 1e-9) + alike / max(float(alike.max()), 1e-9)
            drivers["session"] = (sess_idx[contrib.argmax(axis=0)], sess_kind[contrib.argmax(axis=0)])
        seg_name = None
        if u is not None and self.segment_of_user is not None and self.segment_of_user[u] >= 0:
            seg_name = self.segment_names[self.segment_of_user[u]]
        reasons: list[list[dict]] = []
        why: list[str] = []
        for col in range(len(top)):
            pct = percent_shares(shares[:, col]) if len(signals) else []
            items = []
            for i in np.argsort(-shares[:, col], kind="stable") if len(signals) else []:
                s = signals[i]
                if pct[i] == 0:  # below half a percent: not worth a line (the rest still sum to 100)
                    continue
                label = SIGNAL_LABELS[s]
                if s == "collaborative":
                    text = "customers like you buy this"
                elif s == "segment":
                    text = f"popular in your segment '{seg_name}'" if seg_name else "popular with all shoppers"
                    label = "segment" if seg_name else "popularity"
                else:
                    src, kind = drivers[s][0][col], _KIND_VERB.get(int(drivers[s][1][col]), "viewed")
                    if s == "item_item":
                        together = "bought together with" if self.cooc_basis == "baskets" else "often chosen with"
                        text = f"{together} {names[int(src)]} you {kind}"
                    elif s == "content":
                        text = f"you {kind} this before" if src == top[col] else f"similar to {names[int(src)]}"
                    else:
                        text = f"goes with {names[int(src)]} you just {kind}"
                items.append({"signal": s, "share": float(shares[i, col]), "percent": pct[i], "text": text,
                              "_label": f"{text} ({label}, {pct[i]} %)"})
            why.append("; ".join(r.pop("_label") for r in items))
            reasons.append(items)
        return reasons, why


def _history_weights(x: sp.csr_matrix) -> sp.csr_matrix:
    w = x.copy().astype(np.float32)
    w.data = np.log1p(w.data)
    return w
