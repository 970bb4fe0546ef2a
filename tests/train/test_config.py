"""stage_config: flat configs pass through, sectioned ones merge and link earlier stages' checkpoints."""

from __future__ import annotations

import pytest

from neuronarrator.train.config import check_config, stage_config
from neuronarrator.train.loop import TrainConfigError

SECTIONED = {
    "corpus": "/c",
    "seed": 3,
    "evaluate": {"n_boot": 10},
    "stages": {
        "tokenizer": {"tokenizer": "tiny", "steps": 5, "checkpoint": "/ck/tok.pt"},
        "session": {"session": "tiny", "steps": 7, "seed": 4, "checkpoint": "/ck/ses.pt"},
        "align": {"steps": 9, "checkpoint": "/ck/align.pt"},
    },
}


def test_flat_config_passes_through():
    flat = {"corpus": "/c", "tokenizer": "tiny", "steps": 5}
    config = stage_config(flat, "tokenizer")
    assert config == flat and config is not flat
    assert stage_config(flat, "align") == flat  # a flat file is whatever stage it is run as


def test_sectioned_merge_and_links():
    tok = stage_config(SECTIONED, "tokenizer")
    assert (
        tok["corpus"] == "/c" and tok["seed"] == 3 and tok["steps"] == 5 and tok["checkpoint"] == "/ck/tok.pt"
    )
    # a stage links only earlier stages' checkpoints, and the benchmark's section is no training key (a
    # change to it must not stop a stage from resuming)
    assert "stages" not in tok and "evaluate" not in tok
    assert "tokenizer_checkpoint" not in tok and "session_checkpoint" not in tok

    ses = stage_config(SECTIONED, "session")
    assert ses["seed"] == 4  # the section overrides a shared key
    assert ses["steps"] == 7 and ses["checkpoint"] == "/ck/ses.pt"
    assert ses["tokenizer_checkpoint"] == "/ck/tok.pt" and "session_checkpoint" not in ses
    assert "evaluate" not in ses

    align = stage_config(SECTIONED, "align")
    assert align["session_checkpoint"] == "/ck/ses.pt" and align["checkpoint"] == "/ck/align.pt"
    assert align["seed"] == 3 and "stages" not in align


def test_explicit_link_wins_and_missing_section_leaves_no_link():
    document = {**SECTIONED, "stages": {**SECTIONED["stages"]}}
    document["stages"]["session"] = {**SECTIONED["stages"]["session"], "tokenizer_checkpoint": "/else/tok.pt"}
    assert stage_config(document, "session")["tokenizer_checkpoint"] == "/else/tok.pt"

    no_tokenizer = {"corpus": "/c", "stages": {"session": {"checkpoint": "/ck/ses.pt"}, "tokenizer": {}}}
    assert "tokenizer_checkpoint" not in stage_config(no_tokenizer, "session")


def test_sectioned_errors():
    with pytest.raises(TrainConfigError, match="no section for stage 'decoder'.*tokenizer, session, align"):
        stage_config(SECTIONED, "decoder")
    with pytest.raises(TrainConfigError, match="'stages' must map"):
        stage_config({"stages": ["tokenizer", "session"]}, "tokenizer")
    with pytest.raises(TrainConfigError, match="'stages' must map"):
        stage_config({"stages": {"tokenizer": 5}}, "tokenizer")
    with pytest.raises(TrainConfigError, match="session"):
        stage_config({"stages": {"session": {}}}, "align")


def test_check_config_names_missing_keys():
    check_config({"a": 1, "b": 2}, ("a", "b"), "session")
    with pytest.raises(TrainConfigError, match="the align config lacks b, c"):
        check_config({"a": 1}, ("a", "b", "c"), "align")
