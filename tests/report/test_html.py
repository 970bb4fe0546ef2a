"""The HTML report: self-contained, escaped, no identifier from the file path but its base name, every
sentence link landing on an evidence anchor, every evidence figure embedded, and robust to missing keys."""

from __future__ import annotations

import base64
import copy
from html.parser import HTMLParser

import numpy as np
import pytest

from neuronarrator.report.html import (
    DISCLAIMER,
    MAX_EVIDENCE_PAGES,
    finding_name,
    render_html,
    report_figures,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILE = "/srv/eeg/MCH-0234567/Haagse_Harry/eeg<script>alert(1).edf"
BASE_NAME = "eeg<script>alert(1).edf"
PLANTED = "<script>alert('narrative')</script>"


class _Page(HTMLParser):
    """Ids, link targets, image sources and every tag of a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: set[str] = set()
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a":
            self.hrefs.append(attrs.get("href", ""))
        if tag in ("img", "link", "script", "iframe"):
            self.srcs.append(attrs.get("src") or attrs.get("href") or "")


def _document() -> dict:
    """A report document as ``ReportDocument.to_dict()`` writes it, with markup planted in its text."""
    description = (f"The posterior dominant rhythm is a 9.5 Hz alpha rhythm. There is occasional focal "
                   f"slowing over the left temporal region {PLANTED}. The recording is obtained in the awake "
                   "state.")  # fmt: skip
    impression = "Abnormal awake EEG due to occasional left temporal slowing & sharp waves."
    correlation = (
        "Focal cerebral dysfunction in the left temporal region; clinical correlation is recommended."
    )
    text = (f"DESCRIPTION OF THE RECORD:\n{description}\n\nIMPRESSION:\n{impression}\n\n"
            f"CLINICAL CORRELATION:\n{correlation}\n")  # fmt: skip
    findings = [
        {"code": "pdr", "probability": 0.91, "frequency_hz": 9.5, "channels": ["O1", "O2"],
         "evidence": [{"start_s": 0.0, "end_s": 10.0, "channels": ["O1", "O2"]}]},
        {"code": "focal_slowing", "probability": 0.934, "side": "left", "regions": ["temporal"],
         "channels": ["T7", "P7"],
         "evidence": [{"start_s": 12.0, "end_s": 22.0, "channels": ["T7", "P7"]},
                      {"start_s": 40.0, "end_s": 50.0, "channels": ["T7"]}]},
        {"code": "excess_beta", "probability": 0.6, "evidence": []},
    ]  # fmt: skip

    def sentence(words: str, indices: list[int]) -> dict:
        start = text.index(words)
        return {"start": start, "end": start + len(words), "text": words, "findings": indices,
                "codes": [findings[i]["code"] for i in indices],
                "evidence": [e for i in indices for e in findings[i]["evidence"]]}  # fmt: skip

    return {
        "recording": {"file": FILE, "duration_s": 60.0, "sfreq_hz": 256.0, "montage": "referential",
                      "channels_used": ["Fp1", "Fp2"], "channels_missing": ["F3"],
                      "channels_interpolated": ["Cz"],
                      "channels_approximated": {}},
        "state": "awake", "state_timeline": [{"start_s": 0.0, "end_s": 60.0, "state": "awake"}],
        "impression": "abnormal", "findings": findings, "state_predicted": True,
        "narrative": {"text": text, "description": description, "impression": impression,
                      "clinical_correlation": correlation},
        "sentences": [
            sentence("The posterior dominant rhythm is a 9.5 Hz alpha rhythm.", [0]),
            sentence(f"There is occasional focal slowing over the left temporal region {PLANTED}.", [1]),
            sentence(impression, [1]),
        ],
        "faithfulness": {"before": {"omitted": 1}, "after": {"omitted": 0}},
        "quality": {"usable_fraction": 0.97, "bad_channels": ["F3"],
                    "warnings": [f"F3 flat in {FILE}", "line noise at 50 Hz <b>"]},
        "model": {"name": "neuronarrator", "stage1_checkpoint": "/home/someone/ckpt/stage1.pt",
                  "stage1_sha256": "a" * 64, "narrator_checkpoint": "/home/someone/ckpt/narrator.pt",
                  "narrator_sha256": "b" * 64},
        "provenance": {"threshold": 0.5},
    }  # fmt: skip


def _fake_png(tag: str) -> bytes:
    return PNG_SIGNATURE + tag.encode()


def _figures() -> dict[str, bytes | None]:
    return {"spectrogram": _fake_png("spectrogram"), "topomaps": None, "evidence:0:0": _fake_png("e00"),
            "evidence:1:0": _fake_png("e10"), "evidence:1:1": _fake_png("e11")}  # fmt: skip


def _embedded(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"


def test_page_is_self_contained_html5():
    page = render_html(_document(), _figures(), title="EEG report")
    assert page.startswith("<!DOCTYPE html>")
    parsed = _Page(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert all(src.startswith("data:image/png;base64,") for src in parsed.srcs)
    assert "http://" not in page and "https://" not in page
    assert DISCLAIMER in page
    assert "a" * 64 in page and "b" * 64 in page  # the checkpoints' sha256


def test_planted_markup_is_escaped():
    page = render_html(_document(), _figures(), title="<script>title</script>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;narrative&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1).edf" in page  # the base name, escaped
    assert "&lt;script&gt;title&lt;/script&gt;" in page
    assert "slowing &amp; sharp waves" in page and "50 Hz &lt;b&gt;" in page


def test_only_the_base_name_of_the_file_is_shown():
    page = render_html(_document(), _figures())
    for secret in ("/srv/eeg", "MCH-0234567", "Haagse_Harry", "/home/someone", FILE):
        assert secret not in page, secret
    assert "F3 flat in eeg&lt;script&gt;alert(1).edf" in page  # a path inside a warning: its base name only


def test_every_link_lands_on_an_anchor_and_sentences_link_their_evidence():
    page = render_html(_document(), _figures())
    parsed = _Page(page)
    assert len(parsed.ids) == len(set(parsed.ids)), "repeated ids"
    targets = [h[1:] for h in parsed.hrefs if h.startswith("#")]
    assert targets and set(targets) <= set(parsed.ids)
    assert all(h.startswith("#") for h in parsed.hrefs)  # nothing outside the page
    assert {"ev-0-0", "ev-1-0", "ev-1-1"} <= set(parsed.ids)
    assert '<a class="ev" href="#ev-0-0"' in page  # the PDR sentence
    assert page.count('<a class="ev" href="#ev-1-0"') == 2  # the slowing sentence and the impression
    refs = '<sup class="refs"><a href="#ev-1-0">00:12–00:22</a><a href="#ev-1-1">00:40–00:50</a></sup>'
    assert refs in page


def test_every_evidence_figure_is_embedded_and_the_table_reads_plainly():
    figures = _figures()
    page = render_html(_document(), figures)
    for key, png in figures.items():
        if png is not None:
            assert _embedded(png) in page, key
    assert "No scalp maps" in page  # topomaps None
    assert finding_name("focal_slowing") in page and "93 %" in page and "9.5 Hz" in page
    assert "00:12–00:22" in page and "T7, P7" in page and "whole recording" in page
    assert "F3" in page and "Cz" in page and "97 %" in page  # missing, interpolated, usable


def test_measurements_and_the_ecg_lead_are_in_the_header():
    """The document's measurements (heart rate from the ECG lead, PDR amplitude and prominence, state
    probability) and the lead's label are shown; a missing or non-numeric one is left out, not printed."""
    document = _document()
    document["measurements"] = {"heart_rate_bpm": 71.6, "pdr_amplitude_uv": 42.4,
                                "pdr_peak_to_background_db": "n/a", "state_probability": 0.93}  # fmt: skip
    document["recording"]["ecg_channel"] = "EKG <b>"
    page = render_html(document, _figures())
    assert "<dt>Heart rate (ECG lead)</dt><dd>72 /min</dd>" in page
    assert "<dt>PDR amplitude</dt><dd>42 µV</dd>" in page and "<dt>State probability</dt><dd>0.93</dd>" in page
    assert "PDR over the 1/f background" not in page
    assert "<code>EKG &lt;b&gt;</code>" in page
    assert "Heart rate" not in render_html(_document(), _figures())


def test_missing_pages_and_keys_are_tolerated():
    figures = _figures()
    del figures["evidence:1:1"]
    page = render_html(_document(), figures)
    parsed = _Page(page)
    assert "ev-1-1" in parsed.ids and "Page not drawn" in page
    for document in ({}, {"findings": None, "narrative": None, "sentences": None, "recording": None}):
        page = render_html(document, {})
        assert DISCLAIMER in page and "No finding listed" in page and "No narrative" in page
    document = _document()
    document["narrative"] = {"text": "Slowing is seen. Nothing else."}  # no headed sections
    document["sentences"] = [{"start": 999, "end": 1005, "text": "Slowing is seen.", "findings": [1]},
                             {"text": "not in the text", "findings": [7]}, "junk"]  # fmt: skip
    document["findings"].append({"code": "unknown_code", "evidence": [{"start_s": 5}, "junk"]})
    document["quality"] = {"usable_fraction": "n/a", "warnings": None}
    page = render_html(document, None)
    parsed = _Page(page)
    assert '<a class="ev" href="#ev-1-0"' in page  # found by its text when the offsets are wrong
    assert {h[1:] for h in parsed.hrefs} <= set(parsed.ids)
    assert "Unknown code" in page


def test_report_figures_cap_pages_first_spans_first(monkeypatch):
    import neuronarrator.report.figures as figures

    pages = []

    def fake_page(data_uv, channel_mask, montage, start_s, end_s, highlight=(), title=""):
        pages.append((start_s, end_s, highlight))
        return _fake_png(f"{start_s}")

    monkeypatch.setattr(figures, "eeg_page_png", fake_page)
    monkeypatch.setattr(figures, "spectrogram_png", lambda *a, **k: _fake_png("spectrogram"))
    monkeypatch.setattr(figures, "topomaps_png", lambda *a, **k: None)
    document = {"findings": [{"code": "focal_epileptiform", "side": "left",
                              "evidence": [{"start_s": 5.0 * k + i, "end_s": 5.0 * k + i + 1,
                                            "channels": ["T7"]}
                                           for k in range(4)]} for i in range(4)]}  # fmt: skip
    out = report_figures(document, np.zeros((19, 4000), np.float32), np.ones(19, bool), "referential")
    evidence = sorted(k for k in out if k.startswith("evidence:"))
    assert len(evidence) == MAX_EVIDENCE_PAGES == 12
    assert {f"evidence:{i}:{j}" for i in range(4) for j in range(3)} == set(evidence)  # 3 spans of each
    for start, end, ((a, b, _),) in pages:
        assert 0.0 <= start and end <= 20.0 and end - start == pytest.approx(10.0)  # clipped to 20 s
        assert start <= a and b <= end


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("montage", ["referential", "bipolar"])
def test_report_figures_and_page_end_to_end(montage):
    rng = np.random.default_rng(0)
    data = (20 * rng.standard_normal((19, 30 * 200))).astype(np.float32)
    mask = np.ones(19, bool)
    mask[18 if montage == "bipolar" else 3] = False
    document = copy.deepcopy(_document())
    document["findings"] = document["findings"][:2]
    document["findings"][1]["evidence"] = document["findings"][1]["evidence"][:1]
    document["sentences"] = document["sentences"][:2]
    out = report_figures(document, data, mask, montage)
    assert set(out) == {"spectrogram", "topomaps", "evidence:0:0", "evidence:1:0"}
    assert (out["topomaps"] is None) == (montage == "bipolar")
    page = render_html(document, out)
    for png in out.values():
        if png is not None:
            assert png[:8] == PNG_SIGNATURE and _embedded(png) in page
    assert len(page) < 600_000


def test_every_finding_code_has_a_plain_name() -> None:
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.report.html import FINDING_NAMES

    assert set(FINDING_NAMES) == set(CODES)
