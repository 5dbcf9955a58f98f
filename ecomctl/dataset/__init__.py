"""Dataset stage: render outputs or found posters → InnoComposer-style corpus (parquet + image folders)."""

from __future__ import annotations

from ecomctl.dataset.build import BuildReport, build_corpus, discover
from ecomctl.dataset.settings import DatasetSettings, settings_from
from ecomctl.dataset.validate import validate_corpus

__all__ = [
    "BuildReport",
    "DatasetSettings",
    "build_corpus",
    "corpus_stats",
    "discover",
    "settings_from",
    "validate_corpus",
]


def corpus_stats(corpus):
    """stats.json of a built corpus (raises ConfigError when the folder is not a corpus)."""
    from pathlib import Path

    from ecomctl.dataset.stats import STATS, read_stats
    from ecomctl.errors import ConfigError

    corpus = Path(corpus)
    if not (corpus / STATS).is_file():
        raise ConfigError(f"{corpus}: no {STATS} (not a built corpus? run `ecomctl dataset build` first)")
    return read_stats(corpus)
