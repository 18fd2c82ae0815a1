"""Human-friendly report for ``ved eval``: one self-contained ``report.html`` plus PNG figures.

The HTML embeds every image as a base64 PNG data URI so the single file can be mailed; the same
PNGs are also written to ``out_dir/figures/``. Frame strips are drawn with PIL/numpy; the
fidelity plots with matplotlib's Agg canvas (imported lazily, no display and no pyplot state).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.unk{color:#888}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:.9em}"""

_PAD = 4  # px between frames and around the strip
_BG, _FG = (255, 255, 255), (0, 0, 0)


@dataclass
class Strip:
    """A titled grid of frames: one row per label, frames left to right.

    Attributes:
        title: heading shown above the strip (in the HTML and in the PNG).
        rows: ``(label, frames)`` pairs; ``frames`` is uint8 ``(T, H, W, 3)``. Rows may differ in
            ``T``; e.g. ``[("generated", gen), ("reference", ref)]``.
        caption: optional text under the strip in the HTML.
        ticks: optional tick number per column, drawn above the columns.
    """

    title: str
    rows: list[tuple[str, np.ndarray]]
    caption: str = ""
    ticks: list[int] | None = field(default=None)


def render_strip(strip: Strip, scale: int | None = None) -> Image.Image:
    """Draw ``strip`` as an RGB PIL image: title, tick row, labelled rows of frames.

    Frames are upscaled ``scale``× nearest-neighbour (default: 2× for frames under 128 px,
    else none, so 128 px frames are shown at their full output resolution).

    Raises:
        ValueError: if ``strip.rows`` is empty or a row is not uint8 ``(T, H, W, 3)`` with T ≥ 1.
    """
    if not strip.rows:
        raise ValueError(f"strip {strip.title!r} has no rows")
    rows = []
    for label, frames in strip.rows:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"strip row {label!r}: want uint8 (T, H, W, 3) with T >= 1, "
                             f"got {frames.dtype} {frames.shape}")
        k = scale if scale is not None else (2 if frames.shape[1] < 128 else 1)
        rows.append((str(label), frames.repeat(k, axis=1).repeat(k, axis=2)))
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def size(text: str) -> tuple[int, int]:
        l, t, r, b = measure.textbbox((0, 0), text, font=font)
        return r - l, b - t

    line_h = size("Ag0")[1] + _PAD
    cell_h = max(f.shape[1] for _, f in rows)
    cell_w = max(f.shape[2] for _, f in rows)
    ncols = max(len(f) for _, f in rows)
    label_w = max(size(lab)[0] for lab, _ in rows) + 2 * _PAD
    ticks = list(strip.ticks or [])[:ncols]
    top = _PAD + line_h + (line_h if ticks else 0)
    width = max(label_w + ncols * (cell_w + _PAD) + _PAD, size(strip.title)[0] + 2 * _PAD)
    img = Image.new("RGB", (width, top + len(rows) * (cell_h + _PAD)), _BG)
    draw = ImageDraw.Draw(img)
    draw.text((_PAD, _PAD), strip.title, fill=_FG, font=font)
    for c, t in enumerate(ticks):
        tw = size(str(t))[0]
        draw.text((label_w + c * (cell_w + _PAD) + (cell_w - tw) // 2, _PAD + line_h), str(t), fill=_FG, font=font)
    for r, (label, frames) in enumerate(rows):
        y = top + r * (cell_h + _PAD)
        draw.text((_PAD, y + (cell_h - size(label)[1]) // 2), label, fill=_FG, font=font)
        for c, frame in enumerate(frames):
            img.paste(Image.fromarray(np.ascontiguousarray(frame), "RGB"), (label_w + c * (cell_w + _PAD), y))
    return img


def _lookup(d: dict, h) -> float | None:
    """Value for horizon ``h`` whether the dict is keyed by ``"4"`` or ``4``; None if absent/NaN."""
    v = d.get(str(h), d.get(h)) if isinstance(d, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _horizons(fid: dict, metric: str) -> list[int]:
    keys = {k for m in fid[metric].values() if isinstance(m, dict) for k in m if str(k).isdigit()}
    return [int(h) for h in (fid.get("horizons") or sorted(keys, key=int)) if int(h) > 0]


def plot_fidelity(fid: dict, metric: str) -> bytes:
    """PNG bytes of ``metric`` ("psnr" or "ssim") vs horizon, one line per method, log-scale x."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hs = _horizons(fid, metric)
    fig = Figure(figsize=(6, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for method, vals in fid[metric].items():
        pts = [(h, v) for h in hs if (v := _lookup(vals, h)) is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=str(method))
    ax.set_xscale("log", base=2)
    if hs:
        ax.set_xticks(hs, [str(h) for h in hs])
    ax.set_xlabel("horizon (ticks ahead, log scale)")
    ax.set_ylabel("PSNR (dB, higher is better)" if metric == "psnr" else f"{metric.upper()} (1 = identical)")
    ax.set_title(f"{metric.upper()} vs rollout horizon")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _fmt(v) -> str:
    """Cell text: floats with 2 decimals (2 significant digits when tiny), bools yes/no."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}" if v == 0 or not math.isfinite(v) or abs(v) >= 0.01 else f"{v:.2g}"
    return "—" if v is None else str(v)


def _flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    """``{"a": {"b": 1}, "c": [{"d": 2}]}`` → ``[("a.b", 1), ("c[0].d", 2)]``; scalar lists stay whole."""
    if isinstance(value, dict):
        if not value:
            return [(prefix, "{}")]
        return [kv for k, v in value.items() for kv in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        return [kv for i, v in enumerate(value) for kv in _flatten(v, f"{prefix}[{i}]")]
    if isinstance(value, (list, tuple)):
        return [(prefix, ", ".join(_fmt(v) for v in value))]
    return [(prefix, value)]


def _cell(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    num = isinstance(v, (int, float)) and not isinstance(v, bool)
    return f'<td class="num">{html.escape(_fmt(v))}</td>' if num else f"<td>{html.escape(_fmt(v))}</td>"


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>\n" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>\n"


def _kv_table(value) -> str:
    return _table(["metric", "value"], [[k, v] for k, v in _flatten(value)])


def _summary(items: list) -> str:
    rows, met = [], 0
    for it in items:
        it = it if isinstance(it, dict) else {"what": it}
        ok = it.get("ok")
        met += ok is True
        cls, mark = ("ok", "✔ pass") if ok is True else ("fail", "✘ fail") if ok is False else ("unk", "? n/a")
        cells = "".join(f"<td>{html.escape(_fmt(it.get(k, '')))}</td>" for k in ("what", "target", "measured"))
        rows.append(f'<tr>{cells}<td class="{cls}">{mark}</td></tr>\n')
    head = "<tr><th>what</th><th>target</th><th>measured</th><th>result</th></tr>"
    return (f"<h2>Figures to reach</h2>\n<p><b>{met} of {len(items)}</b> met.</p>\n"
            f"<table>{head}\n{''.join(rows)}</table>\n")


_PERCEPTION = ("sharpness", "fd_judge", "object_recall", "object_precision", "person_recall", "person_precision")


def _perception_table(fid: dict) -> str:
    """What a person sees, one row per method and measure, one column per horizon."""
    hs = [str(h) for h in fid.get("horizons", [])]
    rows = []
    for key in _PERCEPTION:
        for method, per in (fid.get(key) or {}).items():
            if key == "sharpness":
                for part in ("gradient", "laplacian"):
                    rows.append([f"sharpness ({part} ratio)", method] + [(per.get(h) or {}).get(part) for h in hs])
            else:
                rows.append([key, method] + [per.get(h) for h in hs])
    if not rows:
        return ""
    return "<h3>what a person sees</h3>\n" + _table(["measure", "method"] + [f"h={h}" for h in hs], rows)


def _img(data: bytes, alt: str, caption: str = "") -> str:
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}">{cap}</figure>\n'


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "strip"


def write_report(out_dir: Path, results: dict, strips: list[Strip]) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png``; return the HTML path.

    Layout: title (``results["title"]``, default "ved eval"), the ``figures_to_reach`` pass/fail
    summary if present, the ``fidelity`` PSNR/SSIM-vs-horizon plots and tables if present, the
    frame strips, then every other top-level section as a heading and a table of dotted keys.
    Missing sections are skipped; top-level scalars are gathered under "run". All text is
    HTML-escaped. Existing files of the same names are overwritten.

    Raises:
        ValueError: if a strip row is not uint8 ``(T, H, W, 3)`` (see :func:`render_strip`).
        OSError: if ``out_dir`` cannot be written.
    """
    out_dir = Path(out_dir)
    (fig_dir := out_dir / "figures").mkdir(parents=True, exist_ok=True)
    title = str(results.get("title", "ved eval"))
    parts = [f"<h1>{html.escape(title)}</h1>\n"]
    if isinstance(results.get("figures_to_reach"), list):
        parts.append(_summary(results["figures_to_reach"]))
    fid = results.get("fidelity")
    if isinstance(fid, dict):
        parts.append("<h2>fidelity</h2>\n")
        for metric in ("psnr", "ssim"):
            if not isinstance(fid.get(metric), dict) or not fid[metric]:
                continue
            png = plot_fidelity(fid, metric)
            (fig_dir / f"fidelity_{metric}.png").write_bytes(png)
            parts.append(_img(png, f"{metric} vs horizon"))
            hs = _horizons(fid, metric)
            parts.append(_table([f"{metric} \\ horizon"] + hs,
                                [[m] + [_lookup(v, h) for h in hs] for m, v in fid[metric].items()]))
        parts.append(_perception_table(fid))
        rest = {k: v for k, v in fid.items() if k not in ("horizons", "psnr", "ssim") + _PERCEPTION}
        if rest:
            parts.append(_kv_table(rest))
    if strips:
        parts.append("<h2>frame strips</h2>\n")
        for i, strip in enumerate(strips, 1):
            buf = io.BytesIO()
            render_strip(strip).save(buf, format="PNG")
            (fig_dir / f"strip_{i:02d}_{_slug(strip.title)}.png").write_bytes(buf.getvalue())
            parts.append(f"<h3>{html.escape(strip.title)}</h3>\n" + _img(buf.getvalue(), strip.title, strip.caption))
    skip = {"title", "figures_to_reach", "fidelity"}
    scalars = {k: v for k, v in results.items() if k not in skip and not isinstance(v, (dict, list))}
    for key, value in results.items():
        if key not in skip and isinstance(value, (dict, list)):
            parts.append(f"<h2>{html.escape(str(key))}</h2>\n" + _kv_table(value))
    if scalars:
        parts.append("<h2>run</h2>\n" + _kv_table(scalars))
    doc = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
           f"<style>{_CSS}</style></head><body>\n{''.join(parts)}</body></html>\n")
    (path := out_dir / "report.html").write_text(doc, encoding="utf-8")
    return path
