"""NeuroCorpus: harmonized EEG segments and sessions paired with findings, narratives and EHR.

A corpus is a directory of Zarr shards (the signals) and a Parquet manifest (one row per segment and one
per session), built in parallel from registered sources (``corpus/sources``) by ``corpus/build.py``.
"""
