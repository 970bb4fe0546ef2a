"""Training: one loop (:mod:`.loop`) and the stages that feed it (:mod:`.stages`).

Import-light on purpose: the models never import this package, and this package imports the corpus and
the models only inside the stage functions.
"""

from neuronarrator.train.loop import CheckpointMismatchError, TrainConfigError, load_checkpoint, train_loop

__all__ = ["CheckpointMismatchError", "TrainConfigError", "load_checkpoint", "train_loop"]
