"""Hypothesis strategies for structured EDF/EDF+/BDF header mutations.

Byte flips mostly break a header in its first field that fails to parse. To reach the deeper checks
(header size versus signal count, records versus file size, rates, scaling, annotations) a mutation
must keep the rest of the file well formed while one or a few fields lie. So a case here is a valid
:class:`~harness.EdfSpec` (19 referential electrodes, a bipolar montage, a multi-rate plain EDF, a BDF+)
with some of these changes, which Hypothesis picks and, on failure, shrinks to the fewest needed:

- fixed-header texts: version, patient and recording fields, start date and time, header byte count,
  reserved field (EDF+C, EDF+D, garbage), record count (``-1``, 0, huge), record duration (0, negative,
  ``nan``, ``inf``, tiny), signal count;
- per-signal texts: labels (empty, duplicated, an annotation label on a data signal), physical and
  digital minimum/maximum (equal, swapped, non-numeric, ``nan``), samples per record (0, huge, not what
  the data hold);
- the true structure: odd sampling rates (1 to 2,048 samples per 1-s record, all EEG or one signal),
  other record durations, fewer or more records than declared;
- the data: truncated by any number of bytes, trailing bytes, EDF+ annotations with odd onsets and
  texts, or raw garbage in the annotation signal;
- strict or lenient opening.
"""

from __future__ import annotations

from dataclasses import replace

from harness import BIPOLAR_LABELS, TUH_LABELS, Case, EdfSignal, edf_case, eeg_spec
from hypothesis import strategies as st

#: Numbers a header field should refuse or survive: signs, limits, non-finite, empty, almost numbers.
INTERESTING_NUMBERS = ("-1", "0", "1", "-0", "+1", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e-300",
                       "99999999", "-9999999", "2147483648", "4294967296", "0.000001", "3.7", "1.5e2", "",
                       " ", "+", "-", ".", "1,5", "0x10", "1 2", "\x00\x00", "256", "512", "32767",
                       "-32768", "8388607")  # fmt: skip

BASES = {
    "edf+c_19ch_200hz": lambda: eeg_spec(),
    "bdf+c_19ch_256hz": lambda: eeg_spec(sfreq_hz=256, bdf=True),
    "edf_plain_multirate": lambda: eeg_spec(
        TUH_LABELS[:8] + ("EEG A1-REF",), 250, plus=False, extra=(("EKG", 500), ("RESP", 10))
    ),  # fmt: skip
    "edf+c_bipolar_128hz": lambda: eeg_spec(BIPOLAR_LABELS, 128),
    "edf+d_4ch_100hz": lambda: replace(eeg_spec(TUH_LABELS[:4], 100), texts={"reserved": "EDF+D"}),
}

latin_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=90)


def numbers(width: int = 8) -> st.SearchStrategy[str]:
    """Texts for a numeric field: interesting values, integers, floats, or almost-numeric junk."""
    return st.one_of(
        st.sampled_from(INTERESTING_NUMBERS),
        st.integers(-(10**8), 10**9).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda x: f"{x:g}"),
        st.text(alphabet="0123456789+-.eE ", max_size=width),
    )


FIXED_TEXTS = {
    "version": st.one_of(st.sampled_from(["0", "1", "\xffBIOSEMI", "", "EDF", "0\x00"]), latin_text),
    "patient": st.one_of(
        st.sampled_from(
            ["X X X X", "MCH-0234567 F 02-MAY-1951 Haagse_Harry", "1 M 31-FEB-1951 A", "X X 99-XXX-9999 X"]
        ),
        latin_text,
    ),  # fmt: skip
    "recording": st.one_of(
        st.sampled_from(["Startdate 02-MAR-2002 X X X", "Startdate X X X X", "Startdate 31-13-2002"]),
        latin_text,
    ),  # fmt: skip
    "start_date": st.one_of(
        st.sampled_from(["00.00.00", "31.02.20", "1.1.1", "99.99.99", "aa.bb.cc", "01.01.85", "..", ""]),
        latin_text,
    ),  # fmt: skip
    "start_time": st.one_of(st.sampled_from(["24.00.00", "99.99.99", "10:00:00", "1.2", ""]), latin_text),
    "header_bytes": numbers(),
    "reserved": st.one_of(
        st.sampled_from(["", "EDF+C", "EDF+D", "BDF+C", "BDF+D", "24BIT", "EDF+X"]), latin_text
    ),  # fmt: skip
    "n_records": numbers(),
    "record_duration": numbers(),
    "n_signals": numbers(4),
}
LABELS = st.one_of(st.sampled_from(["", "EDF Annotations", "BDF Annotations", "EEG FP1-REF", "Fp1", "FP1-F7",
                                    "ECG", "EEG CZ-REF", "   ", "\x00", "T3-T3"]), latin_text)  # fmt: skip
SIGNAL_TEXTS = {
    "label": LABELS, "transducer": latin_text, "physical_dim": st.sampled_from(["uV", "mV", "V", "nV", "", "µV", "?"]),
    "physical_min": numbers(), "physical_max": numbers(), "digital_min": numbers(), "digital_max": numbers(),
    "prefiltering": latin_text, "samples_per_record": numbers(), "reserved": latin_text,
}  # fmt: skip


@st.composite
def edf_cases(draw: st.DrawFn) -> Case:
    """One structured EDF/EDF+/BDF case (a :class:`~harness.Case` ready for the worker)."""
    name = draw(st.sampled_from(sorted(BASES)))
    spec = BASES[name]()
    changes = []

    # the true structure first (what the data bytes hold), then what the header says
    rate = draw(st.one_of(st.none(), st.sampled_from([1, 7, 50, 99, 100, 101, 173, 199, 1000, 2048])))
    if rate is not None:
        which = draw(st.sampled_from(["all", "one"]))
        data_signals = [i for i, s in enumerate(spec.signals) if not s.is_annotation]
        targets = data_signals if which == "all" else [draw(st.sampled_from(data_signals))]
        for i in targets:
            spec.signals[i] = replace(spec.signals[i], samples_per_record=rate)
        changes.append(f"rate {rate} ({which})")
    duration = draw(st.one_of(st.none(), st.sampled_from([0.5, 0.25, 2.0, 3.7, 10.0])))
    if duration is not None:
        spec.record_duration_s = duration
    n_records = draw(st.one_of(st.none(), st.integers(0, 14)))
    if n_records is not None:
        spec.n_records = n_records

    spec.texts = draw(st.fixed_dictionaries({}, optional=FIXED_TEXTS))
    edits = draw(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(sorted(SIGNAL_TEXTS)), st.data()),
                          max_size=4))  # fmt: skip
    for index, field_name, data in edits:
        i = index % len(spec.signals)
        value = data.draw(SIGNAL_TEXTS[field_name])
        spec.signals[i] = EdfSignal(spec.signals[i].label, spec.signals[i].samples_per_record,
                                    spec.signals[i].physical, {**spec.signals[i].texts, field_name: value})  # fmt: skip
    if draw(st.booleans()):
        a, b = draw(st.sampled_from([(500.0, -500.0), (0.0, 0.0), (1e30, -1e30), (-1e-30, 1e-30)]))
        spec.signals = [s if s.is_annotation else replace(s, physical=(a, b)) for s in spec.signals]
    annotation = draw(st.sampled_from(["keep", "odd", "garbage"]))
    if annotation == "odd":
        onset = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12))
        spec.annotations = draw(st.lists(st.tuples(onset, onset, latin_text), max_size=3))
    elif annotation == "garbage":
        spec.annotation_garbage = draw(st.binary(max_size=200))
    spec.cut_bytes = draw(st.one_of(st.just(0), st.integers(1, 4000), st.integers(4000, 200_000)))
    spec.extra = draw(st.one_of(st.just(b""), st.binary(min_size=1, max_size=300)))
    strict = draw(st.booleans())
    return edf_case(f"hyp:{name}", spec, strict=strict)
