"""The command line: one mapping from command name to function (``COMMANDS``); signatures are the CLI.

Every command prints results on stdout, and a problem with a user's file as one line on stderr
(``neuronarrator: <file>: <problem>``) with a non-zero exit: never a traceback for bad input. An
unexpected internal error prints one line too, and the traceback only with ``NEURONARRATOR_DEBUG=1``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from neuronarrator.io.errors import NeuroNarratorError

app = typer.Typer(
    name="neuronarrator",
    help="Clinical EEG in; evidence-grounded findings and a narrative report out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console()
stderr = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(help="An EEG file: EDF/EDF+/BDF, BrainVision .vhdr, EEGLAB .set, FIF, "
                                              "Nihon Kohden .EEG, Persyst .lay.", show_default=False)]  # fmt: skip


def inspect(
    file: FileArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Channels found and mapped, missing channels, rate, duration, quality, de-identified header.

    Answers from the header and a bounded sample of the data, so a 24-hour file costs no more than a 20-minute one.
    """
    from neuronarrator.summary import inspect_file

    summary = inspect_file(file)
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        _render_inspection(summary)


def spectrogram(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", help="Output .npz file.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Harmonize FILE and write its whole-session multitaper spectrogram (CLEF's parameters) as .npz.

    Arrays: log_psd (n_chans, n_freqs, n_windows) = log(PSD + 1) with the PSD in µV²/Hz, freqs_hz, times_s (window centres), channels, channel_mask; meta holds the harmonization report as JSON.
    """
    from neuronarrator.session import write_session_spectrogram

    if out.suffix != ".npz":
        raise typer.BadParameter(f"{out}: the output must end in .npz", param_hint="--out")
    with stderr.status(f"harmonizing and transforming {file.name}…"):
        result = write_session_spectrogram(file, out, force=force)
    stdout.print(
        f"wrote {out}: {result['n_chans']} channels × {result['n_freqs']} frequencies × "
        f"{result['n_windows']} windows ({result['montage']} montage)"
    )


def label(
    textfile: Annotated[Path, typer.Argument(help="A report as plain text (UTF-8).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Findings read from a report's text: negation, hedges, laterality, regions, abbreviations."""
    from neuronarrator.clinical.label import analyze_report
    from neuronarrator.io.text_input import read_report_text

    result = analyze_report(read_report_text(textfile))
    document = result.findings.to_dict()
    if json_out:
        document["warnings"] = list(result.warnings)
        document["unmapped_terms"] = list(result.unmapped)
        print(json.dumps(document, indent=2))
        return
    stdout.print(f"state: {document['state']}; impression: {document['impression']}")
    for finding in document["findings"]:
        where = " ".join(filter(None, [finding.get("side"), ", ".join(finding.get("regions", []))]))
        freq = f" {finding['frequency_hz']:g} Hz" if "frequency_hz" in finding else ""
        stdout.print(f"  {finding['code']:<24} p={finding['probability']:.2f}  {where}{freq}", markup=False)
    for warning in result.warnings:
        stdout.print(f"  warning: {warning}", markup=False)


def phantom(
    findings: Annotated[str, typer.Option("--findings", help="Comma-separated finding specs, "
                        "code[:side][:region+region][:freq_hz][:channel], e.g. 'focal_slowing:left:temporal,pdr:9.5'; "
                        "'random' draws a case.", show_default=False)],  # fmt: skip
    out: Annotated[Path, typer.Option("--out", help="Output .edf; the truth goes to OUT.truth.json.", show_default=False)],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same subject and signal.")] = 0,
    duration_s: Annotated[float, typer.Option("--duration", help="Seconds to generate.")] = 60.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT and its sidecar if they exist.")] = False,
) -> None:
    """A synthetic clinical EEG with exact ground truth (findings with evidence spans and channels)."""
    from neuronarrator.clinical.phantom import write_phantom

    if out.suffix.lower() != ".edf":
        raise typer.BadParameter(f"{out}: the output must end in .edf", param_hint="--out")
    try:
        edf, sidecar = write_phantom(out, None if findings == "random" else findings, seed=seed,
                                     duration_s=duration_s, overwrite=force)  # fmt: skip
    except ValueError as error:  # a spec the phantom cannot honour: the user's request, not a bug
        raise typer.BadParameter(str(error), param_hint="--findings") from error
    truth = json.loads(sidecar.read_text(encoding="utf-8"))
    codes = ", ".join(f["code"] for f in truth["findings"]) or "none"
    stdout.print(f"wrote {edf} ({duration_s:g} s) and {sidecar}; state {truth['state']}, "
                 f"{truth['impression']}; findings: {codes}", markup=False)  # fmt: skip


def report(
    files: Annotated[list[Path], typer.Argument(help="EEG files (any format inspect reads).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for FILE.report.json and FILE.report.html.")] = Path(
        "neuronarrator-reports"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Also print the report documents as JSON on stdout.")] = False,
    model: Annotated[Path | None, typer.Option("--model", help="A model directory (stage1.pt, narrator.pt, "
                                               "MODEL.json); default: the bundled model.", show_default=False)] = None,  # fmt: skip
    no_html: Annotated[bool, typer.Option("--no-html", help="Write the JSON document only (no figures).")] = False,
    fhir: Annotated[bool, typer.Option("--fhir", help="Also write FILE.report.fhir.json: a FHIR R4 DiagnosticReport "
                                       "with one Observation per finding (validated).")] = False,  # fmt: skip
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing reports.")] = False,
) -> None:
    """Findings with evidence, a narrative checked against them, and an HTML report, for each FILE.

    The model is loaded once for all files. A file that cannot be read is named with its problem and the
    others go on; the exit status is non-zero if any failed. Existing reports are never overwritten
    without --force (checked before any work).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from neuronarrator.report.batch import STAGES, report_files

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=stderr,
                  transient=True, disable=not stderr.is_terminal) as bar:  # fmt: skip
        task = bar.add_task("loading the model", total=len(files) * len(STAGES))

        def progress(path: Path, stage: str) -> None:
            bar.update(task, advance=1, description=f"{path.name}: {stage}")

        try:
            results = report_files(files, out, model=model, html=not no_html, fhir=fhir, force=force,
                                   progress=progress)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="FILES") from None
    failed = [r for r in results if not r.ok]
    if json_out:
        from neuronarrator.io.json_output import dumps

        documents = [r.document for r in results if r.ok]
        print(dumps(documents[0] if len(files) == 1 and documents else documents))
    for r in results:
        if r.ok:
            doc = r.document or {}
            codes = ", ".join(f"{f['code']} {f['probability']:.2f}" for f in doc.get("findings", [])) or "none"
            written = ", ".join(str(p) for p in (r.json_path, r.html_path, r.fhir_path) if p is not None)
            stderr.print(f"{r.path.name}: {doc.get('impression')}, {doc.get('state')}; findings: {codes}; "
                         f"wrote {written} ({sum(r.seconds.values()):.1f} s)", markup=False, soft_wrap=True)  # fmt: skip
        else:
            stderr.print(f"neuronarrator: {r.error}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(2)


def export_model(
    config: Annotated[Path, typer.Option("--config", help="The narrator config the model was trained with "
                                         "(its stage1 and narrator sections name the checkpoints).",
                                         show_default=False)],  # fmt: skip
    out: Annotated[Path, typer.Option("--out", help="The model directory to write.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing model directory's files.")] = False,
) -> None:
    """Write a model directory (for --model, or the one the package ships) from trained checkpoints:
    inference weights only, the tokenizer, and a MODEL.json saying how the model was made."""
    from neuronarrator.narrator.bundled import export_model as export
    from neuronarrator.narrator.bundled import model_card
    from neuronarrator.train.config import stage_config

    document = _read_config(config)
    stage1, narrator = (stage_config(document, s)["checkpoint"] for s in ("stage1", "narrator"))
    card = export(stage1, narrator, out, card=model_card(document, config), force=force)
    for name, info in card["files"].items():
        stdout.print(f"{out / name}: {info['bytes'] / 1e6:.2f} MB, sha256 {info['sha256']}", markup=False)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    model: Annotated[Path | None, typer.Option("--model", help="A model directory; default: the bundled model.",
                                               show_default=False)] = None,  # fmt: skip
    token: Annotated[str | None, typer.Option("--token", envvar="NEURONARRATOR_TOKEN", help="Access token every "
                                              "request must carry (Authorization: Bearer, or ?token= on pages).",
                                              show_default=False)] = None,  # fmt: skip
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted, MB.")] = 512.0,
    max_jobs: Annotated[int, typer.Option("--max-jobs", help="Recordings waiting at most (more: 503), and "
                                          "finished reports kept at most.")] = 32,  # fmt: skip
    keep_hours: Annotated[float, typer.Option("--keep-hours", help="A finished report is forgotten this many "
                                              "hours after it finished.")] = 24.0,  # fmt: skip
) -> None:
    """The web app: upload a recording, follow its progress, read the report, scroll the EEG with the evidence
    marked; a JSON API described by OpenAPI at /openapi.json. Uploads are deleted once read; reports are kept
    in memory only."""
    from neuronarrator.serve import serve_main

    serve_main(host=host, port=port, model=model, token=token, max_upload_mb=max_upload_mb, max_jobs=max_jobs,
               keep_hours=keep_hours)


def _read_config(config: Path) -> dict:
    """A YAML (or JSON) config file as a mapping; TrainConfigError naming the file otherwise."""
    import yaml

    from neuronarrator.train.loop import TrainConfigError

    if not config.is_file():
        raise TrainConfigError(f"{config}: no such config file")
    try:
        document = yaml.safe_load(config.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise TrainConfigError(f"{config}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise TrainConfigError(f"{config}: expected a mapping of config keys")
    return document


def train(
    stage: Annotated[str, typer.Argument(help="The stage to train: tokenizer, session, align (CLEF), stage1, narrator "
                                         "(NeuroNarrator), or all: every stage a sectioned config defines, in that "
                                         "order, finished ones skipped.", show_default=False)],  # fmt: skip
    config: Annotated[Path, typer.Option("--config", help="A YAML (or JSON) training config, e.g. configs/tiny.yaml.",
                                         show_default=False)],  # fmt: skip
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from the config's checkpoint "
                                         "if it exists.")] = True,  # fmt: skip
) -> None:
    """Train one stage (or all) from a config file; checkpoints are written atomically and resumed by default.

    Data-parallel on several processes: ``torchrun --nproc_per_node N --no-python neuronarrator train …``
    (gloo on CPU, NCCL on GPUs; batch_size must be a multiple of N; rank 0 writes and prints)."""
    from neuronarrator import distributed
    from neuronarrator.train.config import stage_config
    from neuronarrator.train.stages import STAGES, train_all

    if stage != "all" and stage not in STAGES:
        raise typer.BadParameter(f"{stage!r} is not a stage; stages: {', '.join(STAGES)}, all", param_hint="STAGE")
    document = _read_config(config)
    world = distributed.init_from_env()
    if not world.is_main:
        logging.getLogger().setLevel(logging.WARNING)  # one rank tells the story
    finished = False
    try:
        if stage == "all":
            results = train_all(document, resume=resume)
        else:
            result = STAGES[stage](stage_config(document, stage), resume=resume)
        finished = True
    finally:
        distributed.shutdown(wait=finished)
    if not world.is_main:
        return
    if stage == "all":
        for r in results:
            metric = f"val {r['metric'][0]} {r['metric'][1]:.4g}" if r["metric"] else "no val metric"
            done = "finished already, skipped" if r["skipped"] else f"trained in {r['seconds']:.1f} s"
            stdout.print(f"{r['stage']}: step {r['step']}/{r['steps']}, {done}; {metric}; {r['checkpoint']}",
                         markup=False, soft_wrap=True)  # fmt: skip
        return
    val = ", ".join(f"{k} {v:.4g}" for k, v in result["val"].items() if isinstance(v, float)) or "no val split"
    stdout.print(f"trained {stage} to step {result['step']}: loss {result['history'][0]:.4g} -> "
                 f"{result['history'][-1]:.4g}; val: {val}; wrote {result['checkpoint']}", markup=False, soft_wrap=True)  # fmt: skip


def evaluate(
    config: Annotated[Path, typer.Option("--config", help="A config with an 'evaluate' section, e.g. "
                                         "configs/clef-tiny.yaml (clef) or configs/narrator-tiny.yaml (narrator).",
                                         show_default=False)],  # fmt: skip
    out: Annotated[Path, typer.Option("--out", help="The Markdown table to write (a .json with every number "
                                      "is written beside it).", show_default=False)],  # fmt: skip
    suite: Annotated[str, typer.Option("--suite", help="The benchmark suite: clef or narrator.")] = "clef",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
) -> None:
    """Run a benchmark suite (clef: frozen embeddings; narrator: generated reports) and write its tables."""
    from neuronarrator.io.atomic import atomic_output
    from neuronarrator.io.errors import OutputExistsError
    from neuronarrator.io.json_output import dumps

    if suite not in ("clef", "narrator"):
        raise typer.BadParameter(f"{suite!r} is not a suite; suites: clef, narrator", param_hint="--suite")
    if out.suffix.lower() != ".md":
        raise typer.BadParameter(f"{out}: the output must end in .md", param_hint="--out")
    json_path = out.with_suffix(".json")
    for path in (out, json_path):
        if path.exists() and not force:
            raise OutputExistsError(path)
    if suite == "narrator":
        from neuronarrator.eval.narrator_report import render_narrator_markdown as render
        from neuronarrator.eval.narrator_suite import narrator_suite_config, run_narrator_suite

        results = run_narrator_suite(narrator_suite_config(_read_config(config)))
    else:
        from neuronarrator.eval.report import render_markdown as render
        from neuronarrator.eval.suite import run_clef_suite, suite_config

        results = run_clef_suite(suite_config(_read_config(config)))
    command = f"neuronarrator evaluate --suite {suite} --config {config} --out {out}"
    with atomic_output(json_path, force=force) as tmp:
        tmp.write_text(dumps(results, indent=1), encoding="utf-8")
    with atomic_output(out, force=force) as tmp:
        tmp.write_text(render(results, command), encoding="utf-8")
    for name, block in results["sets"].items():
        if suite == "narrator":
            f1 = ", ".join(f"{m} {b['macro_f1']:.3f}" for m, b in block["methods"].items() if b["macro_f1"] is not None)
            stdout.print(f"{name}: macro F1 {f1 or 'none'}", markup=False)
        elif "methods" in block and "vs_clef" in block:
            means = ", ".join(f"{m} {b['summary']['mean_auroc']:.3f}" for m, b in block["methods"].items()
                              if b["summary"]["mean_auroc"] is not None)  # fmt: skip
            stdout.print(f"{name}: mean AUROC {means or 'none (no task evaluable)'}", markup=False)
    stdout.print(f"wrote {out} and {json_path}", markup=False)


# --------------------------------------------------------------------------------------------- corpus

corpus_app = typer.Typer(name="corpus", help="NeuroCorpus: build, summarise and check a corpus directory.",
                         no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)  # fmt: skip


def parse_source(text: str) -> tuple[str, Path | None, dict[str, object]]:
    """``name``, ``name:ROOT`` or either with ``?opt=val&opt=val`` -> (name, root, options).

    Option values are read as int, float or true/false where they parse as one, else kept as text.
    """
    from urllib.parse import parse_qsl

    head, _, query = text.partition("?")
    name, _, root = head.partition(":")
    if not name:
        raise typer.BadParameter(f"{text!r}: no source name (expected name[:ROOT][?opt=val&...])", param_hint="SOURCE")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: options must be opt=val pairs joined by '&'", param_hint="SOURCE") from None
    return name, Path(root) if root else None, {key: _option_value(value) for key, value in pairs}


def _option_value(value: str) -> object:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def corpus_build(
    sources: Annotated[list[str], typer.Argument(help="Sources: name, name:ROOT, with ?opt=val&... options, e.g. "
                                                 "'phantom?sessions=1000&duration_s=100' 'edf:data/eegmmidb'.",
                                                 show_default=False, metavar="SOURCE...")],  # fmt: skip
    out: Annotated[Path, typer.Option("--out", help="The corpus directory (resumed if it holds a build of the "
                                      "same sources and parameters).", show_default=False)],  # fmt: skip
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:port); "
                         "default: a local cluster of worker processes. 'threads' or 'synchronous' run locally "
                         "without processes.", show_default=False)] = None,  # fmt: skip
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes of the local cluster "
                                                "(default: one per CPU).", show_default=False)] = None,  # fmt: skip
    shard_sessions: Annotated[int, typer.Option("--shard-sessions", help="Sessions per shard (the unit of work "
                                                "and of resuming).", min=1)] = 32,  # fmt: skip
    topomaps: Annotated[bool, typer.Option("--topomaps/--no-topomaps", help="Store band-power topomaps with "
                                           "the segments.")] = True,  # fmt: skip
    force: Annotated[bool, typer.Option("--force", help="Rebuild OUT even if it holds a corpus of other "
                                        "parameters.")] = False,  # fmt: skip
    splits: Annotated[str, typer.Option("--splits", help="Train, val and test fractions of the patients, "
                                        "e.g. 0.6,0.1,0.3.")] = "0.8,0.1,0.1",  # fmt: skip
) -> None:
    """Build a NeuroCorpus from sources: Zarr shards, a Parquet manifest, a card. Resumable: rerun after an interruption."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from neuronarrator.corpus.build import build_corpus

    parsed = [parse_source(text) for text in sources]
    try:
        split_fractions = tuple(float(x) for x in splits.split(","))
    except ValueError:
        raise typer.BadParameter(f"{splits!r}: give three fractions, e.g. 0.8,0.1,0.1", param_hint="--splits") from None
    from neuronarrator.corpus.labels import split_of

    try:
        split_of("-", "-", split_fractions)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--splits") from None
    # Dask's scheduler and nannies log every start and stop at INFO: not news for a user. (Importing
    # distributed sets its loggers' levels, so this must come after the import.)
    import distributed  # noqa: F401

    distributed_logger = logging.getLogger("distributed")
    distributed_logger.setLevel(max(logging.getLogger().getEffectiveLevel(), logging.WARNING))
    columns = (TextColumn("building shards"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    # no bar (nor the blank line it leaves) when stderr is a pipe or a log file
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("shards", total=None)
        report = build_corpus(parsed, out, shard_sessions=shard_sessions, cache_topomaps=topomaps,
                              scheduler=scheduler, n_workers=workers, force=force, split_fractions=split_fractions,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    stdout.print(f"wrote {out}: {report.sessions} sessions, {report.segments} segments in {report.n_shards} shards "
                 f"({report.shards_built} built, {report.shards_reused} reused) in {report.seconds:.1f} s; "
                 f"{len(report.skipped)} skipped", markup=False, soft_wrap=True)  # fmt: skip
    for skip in report.skipped[:20]:
        stdout.print(f"  skipped {skip['file']}: {skip['reason']}", markup=False, soft_wrap=True)
    if len(report.skipped) > 20:
        stdout.print(f"  ... and {len(report.skipped) - 20} more (see {out / 'CARD.md'})", markup=False, soft_wrap=True)


CorpusDirArg = Annotated[Path, typer.Argument(help="A corpus directory.", show_default=False)]


def corpus_info(
    corpus_dir: CorpusDirArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print the whole card as JSON.")] = False,
) -> None:
    """Counts per split, sources, finding prevalence and build parameters of a corpus (from its card)."""
    from neuronarrator.corpus.verify import load_card

    card = load_card(corpus_dir)
    if json_out:
        print(json.dumps(card, indent=2))
        return
    stdout.print(f"{corpus_dir}: {card['format']}, built {card['built_at']} by neuronarrator "
                 f"{card['code']['neuronarrator']} ({card['code']['git_commit'] or 'commit unknown'})", markup=False, soft_wrap=True)  # fmt: skip
    for s in card["sources"]:
        stdout.print(f"  source {s['name']} ({s['root'] or 'generated'}): {s['sessions']} sessions, "
                     f"{s['segments']} segments, {s['skipped']} skipped", markup=False, soft_wrap=True)  # fmt: skip
    for split, c in card["counts"].items():
        stdout.print(f"  {split:<6} {c['patients']:>7} patients {c['sessions']:>8} sessions {c['segments']:>9} segments",
                     soft_wrap=True)  # fmt: skip
    stdout.print("  impressions: " + ", ".join(f"{k} {v}" for k, v in card["impressions"].items()), soft_wrap=True)
    p = card["prevalence"]
    seen = sorted((code for code in p["segments"] if p["sessions"][code] or p["segments"][code]),
                  key=lambda code: -p["segments"][code])  # fmt: skip
    labelled = card.get("labelled") or {"sessions": "?", "segments": "?"}
    stdout.print(f"  prevalence over the {labelled['sessions']} sessions / {labelled['segments']} segments with "
                 "complete labels: " + ", ".join(f"{c} {p['sessions'][c]:.1%}/{p['segments'][c]:.1%}" for c in seen), soft_wrap=True)  # fmt: skip


def corpus_verify(corpus_dir: CorpusDirArg) -> None:
    """Check every shard, checksum, count, split and row of a corpus; one line per problem, non-zero exit if any."""
    from neuronarrator.corpus.verify import verify_corpus

    with stderr.status(f"verifying {corpus_dir}…"):
        problems = verify_corpus(corpus_dir)
    for problem in problems:
        stderr.print(f"neuronarrator: {corpus_dir}: {problem}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    stdout.print(f"{corpus_dir}: OK", markup=False, soft_wrap=True)


#: Corpus sub-command name -> function (``neuronarrator corpus NAME``).
CORPUS_COMMANDS = {"build": corpus_build, "info": corpus_info, "verify": corpus_verify}
for _name, _function in CORPUS_COMMANDS.items():
    corpus_app.command(name=_name)(_function)


def _render_inspection(summary: dict) -> None:
    """The human form of ``inspect``: header, channel mapping, quality."""
    from rich.table import Table

    h = summary["header"]
    who = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in h.items() if v is not None) or "no header fields"
    stdout.print(f"[bold]{summary['file']}[/bold]  ({summary['format']}, {summary['montage']} montage)")
    stdout.print(f"  {summary['duration_s']:.1f} s at {summary['sfreq_hz']:g} Hz; de-identified header: {who}")
    used, missing = summary["channels_used"], summary["channels_missing"]
    stdout.print(f"  EEG: {len(used)} of {len(used) + len(missing)} channels found"
                 + (f"; missing: {', '.join(missing)}" if missing else ""))  # fmt: skip
    if summary["channels_extra_eeg"]:
        stdout.print(f"  other EEG electrodes: {', '.join(summary['channels_extra_eeg'])}")
    for kind, labels in summary["channels_other"].items():
        stdout.print(f"  {kind}: {', '.join(labels)}")
    table = Table("label", "kind", "maps to", "Hz", box=None, padding=(0, 2))
    for ch in summary["channels"]:
        table.add_row(ch["label"], ch["kind"], ch["canonical"] or "-", f"{ch['sfreq_hz']:g}" if ch["sfreq_hz"] else "-")
    stdout.print(table)
    ev = summary["events"]
    if ev["count"]:
        stdout.print(f"  events: {ev['count']} (" + ", ".join(f"{d} ×{n}" for d, n in ev["descriptions"].items()) + ")")
    q = summary["quality"]
    how = f"sampled {q['seconds_judged']:g} s" if q["sampled"] else "whole recording"
    stdout.print(f"  quality ({how}): usable {q['usable_fraction']:.1%}, mains {q['line_freq_hz'] or 'not seen'}"
                 + (" Hz" if q["line_freq_hz"] else ""))  # fmt: skip
    for flag in q["bad_channels"]:
        stdout.print(f"    bad channel {flag['channel']}: {flag['reason']} ({flag['detail']})")
    if q["bad_spans"]:
        stdout.print(f"    {len(q['bad_spans'])} bad time spans (see --json)")
    for warning in q["warnings"]:
        stdout.print(f"    warning: {warning}")


#: Command name -> function. The only place commands are registered.
COMMANDS = {
    "inspect": inspect,
    "spectrogram": spectrogram,
    "phantom": phantom,
    "label": label,
    "report": report,
    "serve": serve,
    "train": train,
    "export-model": export_model,
    "evaluate": evaluate,
}
for _name, _function in COMMANDS.items():
    app.command(name=_name)(_function)
#: Command groups: name -> typer sub-app with its own commands.
GROUPS = {"corpus": corpus_app}
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning the project's errors into one line on stderr."""
    logging.basicConfig(level=os.environ.get("NEURONARRATOR_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        result = app(args=argv, standalone_mode=False)
    except NeuroNarratorError as error:
        stderr.print(f"neuronarrator: {error}", markup=False, highlight=False, soft_wrap=True)
        return error.exit_code
    except (typer.Abort, KeyboardInterrupt):
        stderr.print("neuronarrator: aborted", markup=False)
        return 130
    except typer.Exit as error:
        return error.exit_code
    except typer.TyperException as error:  # usage errors: the parser's message with the usage line
        error.show()
        return 2
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get("NEURONARRATOR_DEBUG"):
            raise
        stderr.print(
            f"neuronarrator: internal error: {type(error).__name__}: {error} "
            "(rerun with NEURONARRATOR_DEBUG=1 for the traceback)",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        return 70
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
