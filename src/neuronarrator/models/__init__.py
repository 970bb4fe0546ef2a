"""Models: encoders and losses. Stage 2 of CLEF (DESIGN.md): the text and EHR encoders aligned
contrastively with the session transformer.

Submodules import torch (and :mod:`~neuronarrator.models.text` sentence-transformers, lazily), so this
package is kept out of the signal and corpus layers' imports.
"""
