"""``neuronarrator report``: recordings in, a report document (JSON) and an HTML page out, per file.

The model is loaded once for all files (:class:`~neuronarrator.narrator.pipeline.Narrator`); each file
is then read and harmonized, narrated, drawn and written. Outputs go to ``out_dir`` as
``<stem>.report.json`` and ``<stem>.report.html``:

- every output path is checked *before* any work: an existing file without ``force`` stops the run with
  nothing written (nothing a user has is overwritten unasked), and two inputs that would write the same
  output (``a/x.edf`` and ``b/x.edf``) are refused;
- every output of an input is made in memory first, then each file is written atomically
  (:func:`~neuronarrator.io.atomic.atomic_output`), so a failure leaves none of that input's files and an
  interrupted run whole files or none -- never a half-written one;
- a file that cannot be read (corrupt, truncated, too short, not EEG...) is reported with its problem and
  the others go on (an internal error on one file, too: it is named as such); the caller exits non-zero
  if any failed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.errors import InputError, NeuroNarratorError, OutputExistsError
from neuronarrator.io.json_output import dumps

__all__ = ["FileReport", "output_paths", "report_files"]

log = logging.getLogger(__name__)

#: Stages of one file, in order, as the progress callback names them.
STAGES = ("reading", "narrating", "figures", "writing")


@dataclass
class FileReport:
    """What happened to one input: its outputs and document, or the error that stopped it."""

    path: Path
    json_path: Path | None = None
    html_path: Path | None = None
    fhir_path: Path | None = None
    document: dict[str, Any] | None = None
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def output_paths(files: Sequence[str | Path], out_dir: str | Path) -> dict[Path, tuple[Path, Path, Path]]:
    """Input → (JSON, HTML, FHIR) output paths; ValueError when two inputs would write the same output."""
    out_dir = Path(out_dir)
    paths: dict[Path, tuple[Path, Path, Path]] = {}
    seen: dict[str, Path] = {}
    for f in map(Path, files):
        stem = f.name[: -len(f.suffix)] if f.suffix else f.name
        if stem in seen and seen[stem] != f:
            raise ValueError(f"{f} and {seen[stem]} would both write {out_dir / stem}.report.*; "
                             "report them into different --out folders")  # fmt: skip
        seen[stem] = f
        paths[f] = tuple(out_dir / f"{stem}.report.{kind}" for kind in ("json", "html", "fhir.json"))
    return paths


def report_files(files: Sequence[str | Path], out_dir: str | Path, *, model: str | Path | None = None,
                 html: bool = True, fhir: bool = False, force: bool = False, device: str | None = None,
                 progress: Callable[[Path, str], None] | None = None,
                 stream_above_s: float | None = None) -> list[FileReport]:  # fmt: skip
    """Report each of ``files`` into ``out_dir`` (module docstring); ``model``: a model directory (None: the
    bundled model); ``html``: also draw and write the HTML page; ``fhir``: also write the FHIR R4 bundle
    (:mod:`~neuronarrator.report.fhir`, ``<stem>.report.fhir.json``); ``progress(file, stage)`` is called as each
    of :data:`STAGES` begins. A recording longer than ``stream_above_s`` (default
    :data:`~neuronarrator.narrator.stream.STREAM_ABOVE_S`) is reported in one bounded-memory pass over the
    file (:mod:`~neuronarrator.narrator.stream`: the same document; its "reading" stage includes stage 1 and
    the narrator's decoding).

    Raises
    ------
    OutputExistsError
        An output exists and ``force`` is false (raised before anything is read or written).
    ModelNotFoundError
        ``model`` is not a model directory (or the bundled model is missing).
    ValueError
        Two inputs would write the same outputs.
    """
    import time

    from neuronarrator.narrator.bundled import resolve_model
    from neuronarrator.narrator.pipeline import Narrator, recording_signal

    paths = output_paths(files, out_dir)
    if not force:
        for json_path, html_path, fhir_path in paths.values():
            for p in (json_path, *((html_path,) if html else ()), *((fhir_path,) if fhir else ())):
                if p.exists():
                    raise OutputExistsError(p)
    model_paths = resolve_model(model)
    narrator = Narrator(model_paths.stage1, model_paths.narrator, device=device)
    results = []
    for f, (json_path, html_path, fhir_path) in paths.items():
        result = FileReport(f)
        results.append(result)
        marks: list[tuple[str, float]] = []

        def stage(name: str, f: Path = f, marks: list = marks) -> None:
            marks.append((name, time.perf_counter()))
            if progress is not None:
                progress(f, name)

        try:
            stage("reading")
            streamed = _streamed(f, narrator, stream_above_s)
            if streamed is None:
                signal, info = recording_signal(f)
                stage("narrating")
                document = narrator.document(signal, info, model_name=model_paths.name).to_dict()
            else:
                from neuronarrator.narrator.stream import stream_document

                stage("narrating")
                document = stream_document(narrator, streamed, model_name=model_paths.name).to_dict()
            figures = None
            if html:
                stage("figures")
                from neuronarrator.report.html import report_figures

                if streamed is None:
                    figures = report_figures(document, signal.data_uv, signal.channel_mask, signal.montage)
                else:
                    figures = report_figures(document, None, streamed.channel_mask, streamed.montage,
                                             streamed=streamed)  # fmt: skip
            stage("writing")  # everything made in memory first: a failure leaves no file of this input
            outputs = {json_path: dumps(document) + "\n"}
            if fhir:
                from neuronarrator.report.fhir import to_fhir_bundle

                outputs[fhir_path] = dumps(to_fhir_bundle(document)) + "\n"
            if html:
                from neuronarrator.report.html import render_html

                outputs[html_path] = render_html(document, figures)
            for path, text in outputs.items():
                with atomic_output(path, force=force) as tmp:
                    tmp.write_text(text, encoding="utf-8")
            result.json_path = json_path
            result.fhir_path = fhir_path if fhir else None
            result.html_path = html_path if html else None
            result.document = document
        except OutputExistsError:
            raise
        except (InputError, NeuroNarratorError) as error:
            result.error = str(error)
            log.info("%s: %s", f, error)
        except Exception as error:  # noqa: BLE001 - a bug on one file must not lose the others' reports
            if os.environ.get("NEURONARRATOR_DEBUG"):
                raise
            result.error = f"{f}: internal error: {type(error).__name__}: {error} (rerun with NEURONARRATOR_DEBUG=1)"
            log.debug("%s: internal error", f, exc_info=True)
        finally:
            marks.append(("", time.perf_counter()))
            result.seconds = {a: round(t1 - t0, 3) for (a, t0), (_, t1) in zip(marks, marks[1:], strict=False)}
    return results


def _streamed(path: Path, narrator, above_s: float | None):
    """The one-pass :class:`~neuronarrator.narrator.stream.StreamedRecording` of ``path`` when it lasts
    longer than ``above_s`` (None: :data:`~neuronarrator.narrator.stream.STREAM_ABOVE_S`), else None."""
    from neuronarrator.io.read import read_recording
    from neuronarrator.narrator.stream import STREAM_ABOVE_S, stream_recording

    if read_recording(path).duration_s <= (STREAM_ABOVE_S if above_s is None else above_s):
        return None
    return stream_recording(path, narrator)
