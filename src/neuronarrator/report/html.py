"""The report a clinician reads: one self-contained HTML page from a report document (DESIGN.md, "The
report document") and its figures.

:func:`render_html` lays out, top to bottom: a header (the file's base name only, never its folders or any
patient identifier; duration, sampling rate, montage, channels missing / interpolated / approximated, state,
impression, the document's measurements -- state probability, PDR amplitude and prominence, the heart rate
read off an ECG lead, and the lead's label -- and signal quality); the narrative's three sections, each sentence that states a finding linked to
the figures of that finding's evidence (``#ev-<finding>-<span>``); the findings table (plain-English name,
probability, side, regions, frequency, evidence times and channels); the figures (whole-session
spectrogram with the state and findings timelines, band-power scalp maps, one EEG page per evidence span);
and a footer with the model and the statement that the report is a draft for a clinician's review.

Every piece of document text is HTML-escaped, and the recording's full path (and its folder) is replaced by
its base name wherever it appears. The page needs nothing outside itself: inline CSS, the PNGs as base64
``data:`` URIs, no script. Every evidence span of the findings gets an anchor (its figure, or a note that
its page was not drawn), so no link points nowhere.

:func:`report_figures` draws the figures a document needs (:mod:`neuronarrator.report.figures`): the
spectrogram, the scalp maps (referential only) and a 10-s page centred on each evidence span, at most
:data:`MAX_EVIDENCE_PAGES` (the first span of every finding before the second of any).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import CODES

__all__ = ["DISCLAIMER", "FINDING_NAMES", "MAX_EVIDENCE_PAGES", "evidence_id", "finding_name", "render_html",
           "report_figures"]  # fmt: skip

DISCLAIMER = "Draft for review by a qualified clinician; not a diagnosis."
#: EEG pages drawn per report, at most.
MAX_EVIDENCE_PAGES = 12
#: Length of an evidence page, seconds (one 10-s segment).
PAGE_S = 10.0
_SFREQ_HZ = 200.0
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Plain-English names of the finding codes (DESIGN.md, "Findings vocabulary").
FINDING_NAMES: dict[str, str] = {
    "pdr": "Posterior dominant rhythm", "pdr_reactive": "Reactive posterior dominant rhythm",
    "generalized_slowing": "Generalized slowing", "focal_slowing": "Focal slowing",
    "asymmetry": "Amplitude asymmetry", "excess_beta": "Excess beta activity",
    "burst_suppression": "Burst suppression",
    "generalized_spike_wave": "Generalized spike-and-wave discharges",
    "focal_epileptiform": "Focal epileptiform discharges (spikes or sharp waves)",
    "lpd": "Lateralized periodic discharges (LPDs)", "gpd": "Generalized periodic discharges (GPDs)",
    "lrda": "Lateralized rhythmic delta activity (LRDA)",
    "grda": "Generalized rhythmic delta activity (GRDA)",
    "seizure": "Electrographic seizure", "sleep_spindles": "Sleep spindles", "vertex_waves": "Vertex waves",
    "k_complexes": "K-complexes", "eye_blink_artifact": "Eye blink artifact",
    "eye_movement_artifact": "Eye movement artifact", "muscle_artifact": "Muscle artifact",
    "electrode_artifact": "Electrode artifact", "ecg_artifact": "ECG artifact",
    "line_noise": "Line-noise (mains) artifact",
}  # fmt: skip
_SECTIONS = (("description", "Description of the record"), ("impression", "Impression"),
             ("clinical_correlation", "Clinical correlation"))  # fmt: skip

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1060px;
margin:0 auto;padding:1.2em}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
h3{font-size:1.02em;margin:1em 0 .3em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.6em 0}
dl.meta dt{font-weight:600;color:#555}dl.meta dd{margin:0}.prose{white-space:pre-wrap}
a.ev{color:inherit;text-decoration:none;border-bottom:2px solid #fdae6b}a.ev:hover{background:#fee6ce}
sup.refs a{font-size:.8em;margin-left:.25em}table{border-collapse:collapse;width:100%;font-size:.93em}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;white-space:nowrap}code{font-size:.9em}figure{margin:1em 0;page-break-inside:avoid}
figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
.note{color:#777;font-style:italic}.warn{color:#8a4b00}
footer{margin-top:2em;border-top:1px solid #ccc;font-size:.88em;color:#555}
footer .disclaimer{font-weight:600;color:#222}
"""


def finding_name(code: str) -> str:
    """The plain-English name of a finding code (the code itself, spaced, when unknown)."""
    code = str(code)
    return FINDING_NAMES.get(code) or CODES.get(code, code.replace("_", " ")).capitalize()


def evidence_id(finding_index: int, span_index: int) -> str:
    """The HTML id of an evidence span's figure: ``ev-<finding>-<span>``."""
    return f"ev-{int(finding_index)}-{int(span_index)}"


def _clock(seconds: float) -> str:
    """``mm:ss`` (minutes past 59 keep counting)."""
    minutes, rest = divmod(int(round(max(0.0, float(seconds)))), 60)
    return f"{minutes:02d}:{rest:02d}"


def _span_text(start_s: float, end_s: float) -> str:
    return f"{_clock(start_s)}–{_clock(end_s)}"


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN, infinite)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    """A list from a list or tuple; anything else (None, a string, a number): empty."""
    return list(value) if isinstance(value, list | tuple) else []


def _strings(value: Any) -> list[str]:
    """A list of strings from a list (or one string); anything else: empty."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value if v is not None]
    return []


def _base_name(path: Any) -> str:
    return re.split(r"[\\/]", str(path).rstrip("\\/"))[-1] if path else ""


def _findings(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(f) if isinstance(f, Mapping) else {} for f in _seq(document.get("findings"))]


def _spans(finding: Mapping[str, Any]) -> list[tuple[int, float, float, list[str]]]:
    """``(span index, start_s, end_s, channels)`` of a finding's well-formed evidence spans."""
    out = []
    for j, e in enumerate(_seq(finding.get("evidence"))):
        if not isinstance(e, Mapping):
            continue
        start, end = finite_number(e.get("start_s")), finite_number(e.get("end_s"))
        if start is not None and end is not None and end > start:
            out.append((j, start, end, _strings(e.get("channels"))))
    return out


class _Text:
    """Document text made safe to show: the recording's path replaced by its base name, its folder by "…",
    and each folder name that looks like an identifier (holds a digit, "_" or "-") by "…" where it stands
    as a word; then HTML-escaped."""

    def __init__(self, recording: Mapping[str, Any]) -> None:
        self.replace: list[tuple[re.Pattern[str], str]] = []
        for key in ("file", "session_id"):
            path = recording.get(key)
            if not isinstance(path, str) or not re.search(r"[\\/]", path):
                continue
            base = _base_name(path)
            folder = path[: len(path.rstrip("\\/")) - len(base)].rstrip("\\/")
            self.replace.append((re.compile(re.escape(path)), base))
            if folder:
                self.replace.append((re.compile(re.escape(folder)), "…"))
            for part in re.split(r"[\\/]", folder):
                if len(part) >= 3 and re.search(r"[\d_-]", part):
                    self.replace.append((re.compile(rf"(?<![\w-]){re.escape(part)}(?!\.?[\w-])"), "…"))

    def plain(self, value: Any) -> str:
        text = "" if value is None else str(value)
        for pattern, new in self.replace:
            text = pattern.sub(lambda _, new=new: new, text)
        return text

    def __call__(self, value: Any) -> str:
        return html.escape(self.plain(value), quote=True)


def _list(items: Sequence[str], esc: _Text, empty: str = "none") -> str:
    return esc(", ".join(items)) if items else f'<span class="note">{esc(empty)}</span>'


#: The document's ``measurements`` shown in the header: (key, label, unit, decimals).
_MEASUREMENT_ROWS = (
    ("state_probability", "State probability", "", 2),
    ("pdr_amplitude_uv", "PDR amplitude", " µV", 0),
    ("pdr_peak_to_background_db", "PDR over the 1/f background", " dB", 1),
    ("heart_rate_bpm", "Heart rate (ECG lead)", " /min", 0),
)


def _header(document: Mapping[str, Any], esc: _Text, title: str) -> str:
    rec = _mapping(document.get("recording"))
    quality = _mapping(document.get("quality"))
    name = _base_name(rec.get("file")) or _base_name(rec.get("session_id")) or "(unnamed recording)"
    rows = [("Recording", f"<code>{html.escape(name)}</code>")]  # the base name as it is
    duration = finite_number(rec.get("duration_s"))
    if duration is not None:
        rows.append(("Duration", f"{esc(_clock(duration))} ({duration:.0f} s)"))
    sfreq = finite_number(rec.get("sfreq_hz"))
    if sfreq is not None:
        rows.append(("Sampling rate", f"{sfreq:g} Hz as recorded; analysed at {_SFREQ_HZ:g} Hz"))
    if rec.get("montage"):
        rows.append(("Montage", esc(rec["montage"])))
    used = _strings(rec.get("channels_used"))
    if used:
        rows.append(("Channels used", f"{len(used)}: {esc(', '.join(used))}"))
    rows.append(("Channels missing", _list(_strings(rec.get("channels_missing")), esc)))
    rows.append(("Channels interpolated", _list(_strings(rec.get("channels_interpolated")), esc)))
    approx = rec.get("channels_approximated")
    if isinstance(approx, Mapping):
        approx = [f"{row} from {source}" for row, source in approx.items()]
    rows.append(("Channels approximated", _list(_strings(approx), esc)))
    if document.get("state"):
        assumed = " (assumed: no state model)" if document.get("state_predicted") is False else ""
        rows.append(("State", esc(f"{document['state']}{assumed}")))
    if document.get("impression"):
        rows.append(("Impression", f"<strong>{esc(document['impression'])}</strong>"))
    measurements = _mapping(document.get("measurements"))
    for key, label, unit, digits in _MEASUREMENT_ROWS:
        value = finite_number(measurements.get(key))
        if value is not None:
            rows.append((label, f"{value:.{digits}f}{unit}"))
    if rec.get("ecg_channel"):
        rows.append(("ECG lead", f"<code>{esc(rec['ecg_channel'])}</code>"))
    usable = finite_number(quality.get("usable_fraction"))
    if usable is not None:
        rows.append(("Usable signal", f"{100 * usable:.0f} %"))
    if "bad_channels" in quality:
        rows.append(("Bad channels", _list(_strings(quality.get("bad_channels")), esc)))
    warnings = _strings(quality.get("warnings"))
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        rows.append(("Quality warnings", f'<ul class="warn">{items}</ul>'))
    body = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<header><h1>{esc(title)}</h1><dl class="meta">{body}</dl></header>'


def _targets(sentence: Mapping[str, Any], findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(anchor id, "mm:ss–mm:ss")`` of the evidence a sentence rests on: the spans of the findings it
    states, or (without finding indices) the finding spans equal to its evidence entries."""
    spans = {i: _spans(f) for i, f in enumerate(findings)}
    out: list[tuple[str, str]] = []
    indices = [int(i) for i in _seq(sentence.get("findings")) if isinstance(i, int | np.integer)]
    for i in indices:
        out += [(evidence_id(i, j), _span_text(a, b)) for j, a, b, _ in spans.get(i, ())]
    if not indices:
        for e in _seq(sentence.get("evidence")):
            e = _mapping(e)
            key = (finite_number(e.get("start_s")), finite_number(e.get("end_s")))
            out += [(evidence_id(i, j), _span_text(a, b)) for i, s in spans.items() for j, a, b, _ in s
                    if (a, b) == key]  # fmt: skip
    return list(dict.fromkeys(out))


def _place(sentences: list[dict[str, Any]], text: str, sections: list[tuple[str, str, str]]) -> list[list]:
    """Per section, the non-overlapping ``(start, end, sentence)`` of the sentences inside it (character
    offsets in the section): by the sentences' offsets in the narrative where they agree with its text,
    else by searching the sentence's text in the sections."""
    placed: list[list] = [[] for _ in sections]
    bases, cursor = [], 0
    for _, _, body in sections:
        at = text.find(body, cursor) if text and body else -1
        bases.append(at)
        cursor = at + len(body) if at >= 0 else cursor
    for s in sentences:
        words = str(s.get("text") or "")
        start, end = s.get("start"), s.get("end")
        found = False
        if isinstance(start, int) and isinstance(end, int) and (not words or text[start:end] == words):
            for k, (_, _, body) in enumerate(sections):
                if bases[k] >= 0 and bases[k] <= start < end <= bases[k] + len(body):
                    placed[k].append((start - bases[k], end - bases[k], s))
                    found = True
                    break
        if not found and words.strip():
            for k, (_, _, body) in enumerate(sections):
                at = body.find(words)
                if at >= 0:
                    placed[k].append((at, at + len(words), s))
                    break
    out = []
    for spots in placed:
        kept, last = [], 0
        for a, b, s in sorted(spots, key=lambda p: (p[0], p[1])):
            if a >= last:
                kept.append((a, b, s))
                last = b
        out.append(kept)
    return out


def _narrative(document: Mapping[str, Any], findings: list[dict[str, Any]], esc: _Text) -> str:
    narrative = _mapping(document.get("narrative"))
    text = str(narrative.get("text") or "")
    sections = [(key, heading, str(narrative.get(key) or "")) for key, heading in _SECTIONS]
    sections = [s for s in sections if s[2].strip()]
    if not sections and text.strip():  # no headed sections found: the whole text
        sections = [("text", "Narrative", text)]
    if not sections:
        return '<section id="narrative"><h2>Report</h2><p class="note">No narrative.</p></section>'
    sentences = [dict(s) for s in _seq(document.get("sentences")) if isinstance(s, Mapping)]
    parts = ['<section id="narrative"><h2>Report</h2>']
    for (key, heading, body), spots in zip(sections, _place(sentences, text, sections), strict=True):
        html_body, last = [], 0
        for a, b, s in spots:
            html_body.append(esc(body[last:a]))
            targets = _targets(s, findings)
            piece = esc(body[a:b])
            if targets:
                names = ", ".join(finding_name(c) for c in _strings(s.get("codes")))
                tip = f' title="{esc("Evidence: " + names)}"' if names else ""
                piece = f'<a class="ev" href="#{targets[0][0]}"{tip}>{piece}</a>'
                if len(targets) > 1:
                    refs = "".join(f'<a href="#{t}">{esc(label)}</a>' for t, label in targets)
                    piece += f'<sup class="refs">{refs}</sup>'
            html_body.append(piece)
            last = b
        html_body.append(esc(body[last:]))
        parts.append(
            f'<h3 id="narrative-{key}">{esc(heading)}</h3><div class="prose">{"".join(html_body)}</div>'
        )
    parts.append("</section>")
    return "".join(parts)


def _findings_table(findings: list[dict[str, Any]], esc: _Text) -> str:
    if not findings:
        return '<section id="findings"><h2>Findings</h2><p class="note">No finding listed.</p></section>'
    rows = []
    for i, f in enumerate(findings):
        code = str(f.get("code") or "")
        p = finite_number(f.get("probability"))
        freq = finite_number(f.get("frequency_hz"))
        evidence = [f'<li><a href="#{evidence_id(i, j)}">{esc(_span_text(a, b))}</a>'
                    + (f" {esc(', '.join(ch))}" if ch else "") + "</li>"
                    for j, a, b, ch in _spans(f)]  # fmt: skip
        channels = _strings(f.get("channels"))
        rows.append(
            f"<tr><td>{esc(finding_name(code))}<br><code>{esc(code)}</code></td>"
            f'<td class="num">{"—" if p is None else f"{100 * p:.0f} %"}</td>'
            f"<td>{esc(f.get('side') or '—')}</td>"
            f"<td>{esc(', '.join(_strings(f.get('regions'))) or '—')}</td>"
            f'<td class="num">{"—" if freq is None else f"{freq:g} Hz"}</td>'
            f"<td>{esc(', '.join(channels)) or '—'}</td>"
            f"<td>{'<ul>' + ''.join(evidence) + '</ul>' if evidence else _WHOLE_RECORDING}</td>"
            "</tr>"
        )  # fmt: skip
    columns = ("Finding", "Probability", "Side", "Regions", "Frequency", "Channels", "Evidence (mm:ss)")
    head = "".join(f"<th>{h}</th>" for h in columns)
    return f'<section id="findings"><h2>Findings</h2><table><tr>{head}</tr>{"".join(rows)}</table></section>'


_WHOLE_RECORDING = '<span class="note">whole recording</span>'


def _img(png: Any, alt: str, esc: _Text) -> str:
    if not isinstance(png, bytes | bytearray) or not bytes(png[:8]) == _PNG_SIGNATURE:
        return ""
    data = base64.b64encode(bytes(png)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def _figures(findings: list[dict[str, Any]], figures: Mapping[str, Any], esc: _Text,
             viewer_href: Callable[[float], str] | None = None) -> str:  # fmt: skip
    parts = ['<section id="figures"><h2>Figures</h2>']
    overview = [("spectrogram", "Whole-session spectrogram, with the state and the findings' evidence over "
                 "time."), ("topomaps", "Band-power scalp maps over the whole recording.")]  # fmt: skip
    for key, caption in overview:
        image = _img(figures.get(key), caption, esc)
        if image:
            parts.append(f'<figure id="fig-{key}">{image}<figcaption>{esc(caption)}</figcaption></figure>')
        elif key == "topomaps":
            parts.append('<p id="fig-topomaps" class="note">No scalp maps (a bipolar recording has no '
                         "referential form, or no channel holds data).</p>")  # fmt: skip
    spans = [(i, f, s) for i, f in enumerate(findings) for s in _spans(f)]
    if spans:
        parts.append('<h3 id="evidence">Evidence</h3>')
    for i, f, (j, a, b, ch) in spans:
        caption = f"{finding_name(f.get('code') or '')}: {_span_text(a, b)}" + (
            f", {', '.join(ch)}" if ch else ""
        )
        image = _img(figures.get(f"evidence:{i}:{j}"), caption, esc)
        note = "" if image else (f'<p class="note">Page not drawn (at most {MAX_EVIDENCE_PAGES} EEG pages '
                                 "per report).</p>")  # fmt: skip
        viewer = (f' <a class="viewer" href="{esc(viewer_href(float(a)))}">Open in the EEG viewer</a>'
                  if viewer_href is not None else "")  # fmt: skip
        parts.append(f'<figure id="{evidence_id(i, j)}">{image}{note}<figcaption>{esc(caption)}; shaded: the '
                     f"span over the derivations of its channels.{viewer}</figcaption></figure>")  # fmt: skip
    parts.append("</section>")
    return "".join(parts)


def _footer(document: Mapping[str, Any], esc: _Text) -> str:
    model = _mapping(document.get("model"))
    items = [f"Model: {esc(model.get('name') or 'unknown')}"]
    items += [f"{esc(k.replace('_', ' '))}: <code>{esc(v)}</code>" for k, v in model.items()
              if str(k).endswith("sha256") and v]  # fmt: skip
    threshold = finite_number(_mapping(document.get("provenance")).get("threshold"))
    if threshold is not None:
        items.append(f"findings listed at probability ≥ {100 * threshold:.0f} %")
    after = _mapping(_mapping(document.get("faithfulness")).get("after"))
    if after:
        counts = ", ".join(f"{esc(k)} {esc(v)}" for k, v in after.items())
        items.append(f"narrative checked against the findings: {counts}")
    body = "".join(f"<li>{item}</li>" for item in items)
    return f'<footer><ul>{body}</ul><p class="disclaimer">{esc(DISCLAIMER)}</p></footer>'


def render_html(document: Mapping[str, Any], figures: Mapping[str, bytes | None] | None = None, *,
                title: str = "EEG report", viewer_href: Callable[[float], str] | None = None) -> str:  # fmt: skip
    """The report page of a report document (``ReportDocument.to_dict()``; any key may be missing) with its
    ``figures`` (keys ``"spectrogram"``, ``"topomaps"``, ``"evidence:<finding index>:<span index>"``, PNG
    bytes or None), as one self-contained HTML5 string (module docstring). ``viewer_href(start_s)``: where
    an EEG viewer shows the recording from ``start_s`` (the web app's); each evidence figure links there."""
    document = _mapping(document)
    figures = _mapping(figures)
    esc = _Text(_mapping(document.get("recording")))
    findings = _findings(document)
    body = (_header(document, esc, title) + _narrative(document, findings, esc)
            + _findings_table(findings, esc) + _figures(findings, figures, esc, viewer_href)
            + _footer(document, esc))  # fmt: skip
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
            f"<body>{body}</body></html>\n")  # fmt: skip


def _evidence_pages(
    findings: list[dict[str, Any]], max_pages: int
) -> list[tuple[int, int, float, float, list[str]]]:
    """The spans that get a page: every finding's first span, then the second, ... up to ``max_pages``."""
    spans = [(j_rank, i, span) for i, f in enumerate(findings) for j_rank, span in enumerate(_spans(f))]
    spans.sort(key=lambda s: (s[0], s[1]))
    return [(i, j, a, b, ch) for _, i, (j, a, b, ch) in spans[:max_pages]]


def report_figures(document: Mapping[str, Any], data_uv: np.ndarray | None, channel_mask: np.ndarray,
                   montage: str, *, max_pages: int = MAX_EVIDENCE_PAGES, page_s: float = PAGE_S,
                   streamed: Any = None) -> dict[str, bytes | None]:  # fmt: skip
    """Every figure :func:`render_html` shows for ``document``, from the session it was made from
    (``data_uv`` (19, n_times) µV at 200 Hz, ``channel_mask`` (19,), ``montage``): the spectrogram, the scalp
    maps (None for a bipolar session) and a ``page_s`` page centred on each evidence span, clipped to the
    recording, at most ``max_pages`` (module docstring). A long recording passes, instead of ``data_uv``
    (None), its :class:`~neuronarrator.narrator.stream.StreamedRecording` (``streamed``): the spectrogram and
    maps are drawn from its summaries and each page from its own seconds, read back from the file."""
    from neuronarrator.report.figures import eeg_page_png, spectrogram_png, topomaps_png

    document = _mapping(document)
    data = None if streamed is not None else np.asarray(data_uv)
    mask = np.asarray(channel_mask, bool)
    n_times = streamed.n_times if data is None else data.shape[1]
    duration_s = n_times / _SFREQ_HZ
    findings = _findings(document)
    finding_spans: dict[str, list[tuple[float, float]]] = {}
    for f in findings:
        spans = _spans(f)
        if spans:
            finding_spans.setdefault(str(f.get("code") or "?"), []).extend((a, b) for _, a, b, _ in spans)
    timeline = [{"start_s": finite_number(s.get("start_s")), "end_s": finite_number(s.get("end_s")),
                 "state": str(s.get("state"))}
                for s in _seq(document.get("state_timeline")) if isinstance(s, Mapping)]  # fmt: skip
    timeline = [s for s in timeline if s["start_s"] is not None and s["end_s"] is not None]
    if data is None:
        out: dict[str, bytes | None] = {
            "spectrogram": spectrogram_png(None, mask, montage, timeline, finding_spans, duration_s=duration_s,
                                           mean_spectrogram=streamed.mean_spectrogram),
            "topomaps": topomaps_png(None, mask & streamed.finite_rows, montage,
                                     band_power_uv2=streamed.band_power_uv2),
        }  # fmt: skip
    else:
        out = {"spectrogram": spectrogram_png(data, mask, montage, timeline, finding_spans),
               "topomaps": topomaps_png(data, mask, montage)}  # fmt: skip
    for i, j, a, b, channels in _evidence_pages(findings, max_pages):
        start = min(max(0.0, (a + b) / 2 - page_s / 2), max(0.0, duration_s - page_s))
        end = min(start + page_s, duration_s)
        code = str(findings[i].get("code") or "")
        title = f"{finding_name(code)}: evidence {_span_text(a, b)}" + (
            f" ({', '.join(channels)})" if channels else ""
        )
        if data is not None:
            out[f"evidence:{i}:{j}"] = eeg_page_png(data, mask, montage, start, end, [(a, b, channels)], title)
            continue
        # streamed: just the page's samples, as eeg_page_png would cut them from the whole session
        i0 = int(np.clip(round(start * _SFREQ_HZ), 0, max(n_times - 1, 0)))
        page = streamed.source.read(i0, max(round(end * _SFREQ_HZ), i0 + 1))
        out[f"evidence:{i}:{j}"] = eeg_page_png(page, mask, montage, start, end, [(a, b, channels)], title,
                                                offset_s=i0 / _SFREQ_HZ)  # fmt: skip
    return out
