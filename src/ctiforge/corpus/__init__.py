"""Decontaminated training corpora for CTI models, and audits of existing ones.

    from ctiforge.corpus import load_config, build_corpus, check_corpus

    config = load_config(Path("configs/corpus.yaml"), ["seed=3"])
    result = build_corpus(config, Path("out/corpus"))    # corpus.jsonl, manifest.json, reports
    report = check_corpus(Path("train.jsonl"), [Path("cti-rcm-2021.tsv")])

Every build removes records that contain a benchmark item: the same CVE ID,
the item's text verbatim or as a near-duplicate (word-shingle containment), or an
ATT&CK software entry that a benchmark covers. This module does not
import torch.
"""

from ctiforge.corpus._benchmarks import BenchmarkItem, read_benchmark
from ctiforge.corpus._build import BuildResult, build_corpus
from ctiforge.corpus._check import BenchmarkAudit, CheckReport, check_corpus
from ctiforge.corpus._config import CorpusConfig, Decontamination, load_config
from ctiforge.corpus._decontam import BenchmarkIndex, Hit, Query
from ctiforge.corpus._records import TrainingRecord
from ctiforge.corpus._text import normalize_text

__all__ = [
    "BenchmarkAudit",
    "BenchmarkIndex",
    "BenchmarkItem",
    "BuildResult",
    "CheckReport",
    "CorpusConfig",
    "Decontamination",
    "Hit",
    "Query",
    "TrainingRecord",
    "build_corpus",
    "check_corpus",
    "load_config",
    "normalize_text",
    "read_benchmark",
]
