"""neuronarrator: clinical EEG in, evidence-grounded findings and a narrative report out."""

__version__ = "0.1.0"
