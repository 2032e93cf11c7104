"""Model cards: recipe, data sources and licences, decontamination, evaluation results, limitations."""

from ctiforge.card._card import (
    LIMITATIONS,
    SOURCE_LICENCES,
    CardSources,
    collect_sources,
    render_card,
    write_card,
)

__all__ = ["LIMITATIONS", "SOURCE_LICENCES", "CardSources", "collect_sources", "render_card", "write_card"]
