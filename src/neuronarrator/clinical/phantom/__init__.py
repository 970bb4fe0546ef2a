"""A physiologically grounded clinical EEG phantom with exact ground truth.

``generate("focal_slowing:left:temporal", seed=3)`` returns 19 channels of µV against linked ears and a
:class:`~neuronarrator.clinical.findings.Findings` truth whose every finding says where (seconds and
channels) it shows; :func:`write_phantom` writes that as an EDF+ file and a report-document sidecar.

Modules, one idea each: :mod:`.head` (electrodes, fields, the eyes), :mod:`.waveforms` (noise and
templates), :mod:`.subject` (parameter ranges with sources; the subject per seed), :mod:`.canvas` (what
generators paint on), :mod:`.background` (spatially correlated 1/f), :mod:`.rhythms` (wake and sleep),
:mod:`.abnormal` (slowing, asymmetry, rhythmic delta, burst suppression), :mod:`.epileptiform` (spikes,
spike-and-wave, periodic discharges, seizures), :mod:`.artifacts`, :mod:`.request` (specs, states), :mod:`.generate`, :mod:`.files` (EDF + sidecar).
"""

from neuronarrator.clinical.phantom.canvas import Spec
from neuronarrator.clinical.phantom.files import report_document, truth_path, write_phantom
from neuronarrator.clinical.phantom.generate import GENERATORS, PhantomRecording, generate
from neuronarrator.clinical.phantom.request import parse_spec
from neuronarrator.clinical.phantom.subject import PARAMETERS, PREVALENCE, Subject, draw_subject

__all__ = [
    "GENERATORS", "PARAMETERS", "PREVALENCE", "PhantomRecording", "Spec", "Subject", "draw_subject",
    "generate", "parse_spec", "report_document", "truth_path", "write_phantom",
]  # fmt: skip
