"""The web app's HTML: the upload page, the report page's navigation, the EEG viewer and message pages.

Every value that comes from a document, a file name or a request is HTML-escaped; links carry the
request's ``?token=`` on when the server has a token (the upload page's script sends it as a bearer
header). The upload page is a plain form plus a few lines of script that posts the file, polls the job
and links to the report; the other pages have no script.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from neuronarrator.report.html import DISCLAIMER, finding_name, finite_number

__all__ = ["PAGE_S", "evidence_spans", "link", "message_page", "page_start", "report_page", "upload_page",
           "viewer_page"]  # fmt: skip

#: Length of one viewer page, seconds (one 10-s segment, as the report's evidence pages).
PAGE_S = 10.0

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1060px;
margin:0 auto;padding:1.2em}h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.4em}
nav.app{background:#f4f4f4;border:1px solid #ddd;padding:.4em .8em;margin-bottom:1em}
nav.app a{margin-right:1.2em}img.page{max-width:100%;height:auto;border:1px solid #eee}
.note{color:#666}.error{color:#a40000;font-weight:600}ul.spans li{margin:.15em 0}
li.here{font-weight:600}form.jump{display:inline;margin-left:1em}input[type=number]{width:6em}
"""


def fmt_s(seconds: float) -> str:
    """Seconds as a short query value: ``12``, ``12.5``, ``12.345``."""
    return f"{round(float(seconds), 3):.3f}".rstrip("0").rstrip(".")


def link(path: str, token: str | None = None, **params: Any) -> str:
    """``path`` with ``params`` (and the token, when there is one) as its query, HTML-escaped."""
    query = {k: v for k, v in params.items() if v is not None}
    if token:
        query["token"] = token
    return html.escape(path + ("?" + urlencode(query) if query else ""))


def _page(title: str, body: str, *, refresh_s: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{refresh}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>{body}</body></html>\n")  # fmt: skip


def message_page(title: str, message: str, *, token: str | None = None, refresh_s: int | None = None) -> str:
    """A short page with one message (errors, a report not ready yet) and a link home."""
    body = (f"<h1>{html.escape(title)}</h1><p class=\"error\">{html.escape(message)}</p>"
            f'<p><a href="{link("/", token)}">Upload a recording</a></p>')  # fmt: skip
    return _page(title, body, refresh_s=refresh_s)


_SCRIPT = """
const token = new URLSearchParams(location.search).get("token");
const q = token ? "?token=" + encodeURIComponent(token) : "";
const headers = token ? {"Authorization": "Bearer " + token} : {};
const out = document.getElementById("status");
document.getElementById("upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  out.textContent = "Uploading…";
  try {
    let r = await fetch("/api/jobs", {method: "POST", body: new FormData(event.target), headers});
    const job = await r.json();
    if (!r.ok) { out.textContent = "Refused: " + job.detail; return; }
    for (let i = 0; i < 3600; i++) {
      r = await fetch(job.status_url, {headers});
      const s = await r.json();
      if (!r.ok) { out.textContent = "Error: " + s.detail; return; }
      if (s.status === "done") {
        const a = document.createElement("a");
        a.href = s.report_url + q; a.textContent = "Open the report of " + s.filename;
        out.replaceChildren(a); return;
      }
      if (s.status === "failed") { out.textContent = "Failed: " + s.error; return; }
      out.textContent = (s.stage || s.status) + "…";
      await new Promise((done) => setTimeout(done, 1000));
    }
  } catch (error) { out.textContent = "Error: " + error; }
});
"""


def upload_page(max_upload_mb: float, suffixes: Sequence[str], *, token: str | None = None) -> str:
    """The home page: the upload form and its script."""
    accept = ",".join(suffixes)
    names = ", ".join(s.lstrip(".").upper() for s in suffixes)
    body = (
        "<h1>neuronarrator</h1>"
        "<p>Upload one EEG recording; the findings and a narrative report follow in a minute or so.</p>"
        f'<p class="note">Accepted: {html.escape(names)} ({html.escape(", ".join(suffixes))}), up to '
        f"{max_upload_mb:g} MB: the formats that hold a whole recording in one file. BrainVision, EEGLAB, "
        "Nihon Kohden and Persyst recordings span several files: report them with "
        "<code>neuronarrator report FILE</code> instead.</p>"
        f'<form id="upload" action="{link("/api/jobs", token)}" method="post" enctype="multipart/form-data">'
        f'<input type="file" name="file" accept="{html.escape(accept)}" required> '
        '<button type="submit">Upload</button></form>'
        '<p id="status" role="status" aria-live="polite"></p>'
        '<p class="note">The upload is deleted as soon as it has been read; the report is kept in this '
        f"server's memory only. {html.escape(DISCLAIMER)}</p>"
        f'<p class="note"><a href="{link("/docs", token)}">API documentation</a></p>'
        f"<script>{_SCRIPT}</script>"
    )
    return _page("neuronarrator", body)


def report_page(report_html: str, job_id: str, *, token: str | None = None) -> str:
    """The stored report page with the app's navigation (viewer, JSON, new upload) at the top."""
    nav = (f'<nav class="app" style="background:#f4f4f4;border:1px solid #ddd;padding:.4em .8em">'
           f'<a href="{link(f"/jobs/{job_id}/viewer", token)}">EEG viewer</a> · '
           f'<a href="{link(f"/api/jobs/{job_id}/report.json", token)}">report.json</a> · '
           f'<a href="{link("/", token)}">Upload another recording</a></nav>')  # fmt: skip
    head, sep, rest = report_html.partition("<body>")
    return head + sep + nav + rest if sep else nav + report_html


def page_start(start_s: float, end_s: float, duration_s: float, page_s: float = PAGE_S) -> float:
    """The start of the page centred on a span, clipped to the recording (as the report's evidence pages)."""
    return max(0.0, min((start_s + end_s) / 2 - page_s / 2, duration_s - page_s))


def evidence_spans(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every well-formed evidence span of the document's findings: ``{"finding", "start_s", "end_s",
    "channels"}`` in document order."""
    out = []
    for finding in document.get("findings") or []:
        if not isinstance(finding, Mapping):
            continue
        for span in finding.get("evidence") or []:
            if not isinstance(span, Mapping):
                continue
            a, b = finite_number(span.get("start_s")), finite_number(span.get("end_s"))
            if a is None or b is None or b <= a:
                continue
            channels = span.get("channels") or []
            out.append({"finding": finding_name(str(finding.get("code") or "?")), "start_s": a, "end_s": b,
                        "channels": [str(c) for c in channels] if isinstance(channels, list) else []})  # fmt: skip
    return out


def _clock(seconds: float) -> str:
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes):02d}:{rest:04.1f}"


def viewer_page(job_id: str, filename: str, document: Mapping[str, Any], start_s: float, duration_s: float, *,
                token: str | None = None, page_s: float = PAGE_S) -> str:  # fmt: skip
    """One ``page_s`` page of the recording from ``start_s``: the picture (``page.png``), previous/next
    links, a jump-to-time form and the evidence spans, each linking to the page centred on it."""
    end_s = min(start_s + page_s, duration_s)
    viewer = f"/jobs/{job_id}/viewer"
    nav = [f'<a href="{link(f"/jobs/{job_id}", token)}">Report</a>']
    if start_s > 0:
        nav.append(
            f'<a href="{link(viewer, token, start_s=fmt_s(max(0.0, start_s - page_s)))}">← Previous</a>'
        )
    if start_s + page_s < duration_s:
        nav.append(f'<a href="{link(viewer, token, start_s=fmt_s(start_s + page_s))}">Next →</a>')
    hidden = f'<input type="hidden" name="token" value="{html.escape(token)}">' if token else ""
    jump = (f'<form class="jump" method="get" action="{html.escape(viewer)}">{hidden}'
            f'<label>Go to second <input type="number" name="start_s" min="0" step="any" '
            f'max="{fmt_s(max(0.0, duration_s - 1e-3))}" value="{fmt_s(start_s)}"></label> '
            '<button type="submit">Go</button></form>')  # fmt: skip
    items = []
    for span in evidence_spans(document):
        a, b = span["start_s"], span["end_s"]
        target = page_start(a, b, duration_s, page_s)
        here = ' class="here"' if a < end_s and b > start_s else ""
        channels = f" ({html.escape(', '.join(span['channels']))})" if span["channels"] else ""
        items.append(f'<li{here}><a href="{link(viewer, token, start_s=fmt_s(target))}">'
                     f"{html.escape(span['finding'])}: {_clock(a)}–{_clock(b)}</a>{channels}</li>")  # fmt: skip
    spans = f'<ul class="spans">{"".join(items)}</ul>' if items else '<p class="note">No evidence spans.</p>'
    picture = link(f"/api/jobs/{job_id}/page.png", token, start_s=fmt_s(start_s))
    body = (
        f'<nav class="app">{" ".join(nav)}{jump}</nav>'
        f"<h1>{html.escape(filename)}: {_clock(start_s)}–{_clock(end_s)}</h1>"
        f'<p class="note">{fmt_s(duration_s)} s in all; longitudinal bipolar montage, negative up; the '
        "evidence of the findings is shaded.</p>"
        f'<img class="page" src="{picture}" alt="EEG from {fmt_s(start_s)} s to {fmt_s(end_s)} s" '
        'width="1000" height="660">'
        f"<h2>Evidence</h2>{spans}"
    )
    return _page(f"EEG viewer: {filename}", body)
