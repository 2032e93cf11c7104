"""The `Task` base class: loading, prompting, parsing and scoring one CTIBench task."""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ctiforge.benchmarks._loading import read_tsv
from ctiforge.benchmarks._types import Item, Parsed, Prompt, TaskScore
from ctiforge.errors import ConfigError, DataFormatError

logger = logging.getLogger(__name__)

PROTOCOLS = ("ift", "base")
DEFAULT_SHOTS = 5
_CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


class Task:
    """One CTIBench task. Subclasses set the class attributes and the hooks below."""

    name: ClassVar[str]
    rules: ClassVar[tuple[str, ...]]
    default_rule: ClassVar[str] = "strict"
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    required_columns: ClassVar[tuple[str, ...]]
    gold_column: ClassVar[str | None] = "GT"
    file_name: ClassVar[str]
    """File name of the task's TSV inside a CTIBench folder."""

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    # Loading

    def resolve_path(self, path: str | Path) -> Path:
        """Return the TSV file for `path`, which is the file itself or a folder holding `<name>.tsv`."""
        path = Path(path)
        if path.is_dir():
            candidate = path / self.file_name
            if not candidate.is_file():
                raise DataFormatError(
                    f"{self.name}: no {self.file_name} in folder {path}; pass the TSV file or the CTIBench folder"
                )
            return candidate
        return path

    def load(self, path: str | Path) -> list[Item]:
        """Load the task's items from a TSV file or from a folder holding `<name>.tsv`."""
        source = self.resolve_path(path)
        _, rows = read_tsv(source, required=self.required_columns, what=f"{self.name} file")
        items = [self._make_item(index, row, source) for index, row in enumerate(rows)]
        logger.info("loaded %d %s items from %s", len(items), self.name, source)
        return items

    def _make_item(self, index: int, row: dict[str, str], source: Path | None) -> Item:
        url = row.get("URL")
        url = url.strip() if url is not None else None
        match = _CVE_RE.search(url) if url else None
        cve_id = match.group(0).upper() if match else None
        gold_text = row.get(self.gold_column) if self.gold_column else None
        gold = self.normalize_gold(gold_text, where=f"{source}: row {index + 1}") if gold_text is not None else None
        return Item(
            task=self.name,
            index=index,
            item_id=cve_id or f"{self.name}-{index}",
            prompt=row.get("Prompt", ""),
            gold=gold,
            fields=dict(row),
            cve_id=cve_id,
            url=url,
        )

    def items_from_gold(self, golds: Sequence[str | None], *, source: str = "gold column") -> list[Item]:
        """Build bare items (gold answer only) from a list of gold strings, e.g. a responses file's GT column."""
        return [
            self.item_from_record(index, gold=text, where=f"{source}: row {index + 1}")
            for index, text in enumerate(golds)
        ]

    def item_from_record(
        self, index: int, *, gold: str | None, url: str | None = None, item_id: str | None = None, where: str
    ) -> Item:
        """Build an item from a run record's fields; the ID comes from `item_id`, else the URL's CVE ID."""
        match = _CVE_RE.search(url) if url else None
        cve_id = match.group(0).upper() if match else None
        normalized = self.normalize_gold(gold, where=where) if isinstance(gold, str) and gold.strip() else None
        return Item(
            task=self.name,
            index=index,
            item_id=item_id or cve_id or f"{self.name}-{index}",
            prompt="",
            gold=normalized,
            cve_id=cve_id,
            url=url,
        )

    def normalize_gold(self, text: str, *, where: str) -> Any:
        """Return the gold answer in the form `parse` produces; `where` names the row for errors."""
        return text.strip() or None

    # Prompts

    def build_prompt(
        self,
        item: Item,
        *,
        protocol: str = "ift",
        pool: Sequence[Item] | None = None,
        seed: int = 0,
        trial: int = 0,
        shots: int = DEFAULT_SHOTS,
    ) -> Prompt:
        """Build the prompt for `item` under the ``ift`` or ``base`` protocol.

        ``ift`` sends the dataset's Prompt column, stripped, as the only user
        message. ``base`` is a few-shot completion prompt whose exemplars are
        drawn from `pool` (the target item and items with the same text are
        excluded) with a generator seeded by task, `seed`, `trial` and item index,
        so every trial sees different exemplars and every rerun the same ones.
        """
        if protocol == "ift":
            text = item.prompt.strip()
            if not text:
                raise DataFormatError(f"{self.name} item {item.item_id} has an empty Prompt column")
            return Prompt(messages=[{"role": "user", "content": text}], text=text, stop=[], protocol="ift", exemplar_ids=[])
        if protocol != "base":
            raise ConfigError(f"unknown prompt protocol {protocol!r}; use one of: {', '.join(PROTOCOLS)}")
        exemplars = self._sample_exemplars(item, pool, seed=seed, trial=trial, shots=shots)
        text = self._base_text(item, exemplars)
        return Prompt(
            messages=[{"role": "user", "content": text}],
            text=text,
            stop=self._base_stop(),
            protocol="base",
            exemplar_ids=[exemplar.item_id for exemplar in exemplars],
        )

    def _sample_exemplars(
        self, item: Item, pool: Sequence[Item] | None, *, seed: int, trial: int, shots: int
    ) -> list[Item]:
        if shots <= 0:
            return []
        if pool is None:
            raise ConfigError(f"{self.name}: the base protocol needs pool=<items of the same file> to draw exemplars from")
        candidates = [
            other
            for other in pool
            if other.item_id != item.item_id
            and other.gold is not None
            and self._exemplar_key(other) != self._exemplar_key(item)
        ]
        if len(candidates) < shots:
            raise ConfigError(
                f"{self.name}: the base protocol needs {shots} exemplars but the pool has only "
                f"{len(candidates)} usable items besides {item.item_id}"
            )
        # A string seed makes random.Random hash it with SHA-512, so the draw
        # is the same on every platform and Python version 3.2 or later.
        rng = random.Random(f"{self.name}:{seed}:{trial}:{item.index}")
        return rng.sample(candidates, shots)

    def _exemplar_key(self, item: Item) -> str:
        return item.prompt.strip()

    def _base_text(self, item: Item, exemplars: Sequence[Item]) -> str:
        raise NotImplementedError

    def _base_stop(self) -> list[str]:
        return ["\n\n"]

    # Parsing and scoring

    def parse(self, response: str | None, rule: str | None = None) -> Parsed:
        """Extract the answer from one response with the named rule (default: `default_rule`)."""
        rule = self.check_rule(rule)
        if not isinstance(response, str):
            return Parsed(value=None, rule=rule, step=None, raw_len=0)
        return self._extract(response, rule)

    def check_rule(self, rule: str | None) -> str:
        """Return `rule`, or the default rule for None; raise `ConfigError` for a rule this task lacks."""
        if rule is None:
            return self.default_rule
        if rule not in self.rules:
            raise ConfigError(f"{self.name} has no answer rule {rule!r}; use one of: {', '.join(self.rules)}")
        return rule

    def _extract(self, response: str, rule: str) -> Parsed:
        raise NotImplementedError

    def score(self, items: Sequence[Item], responses: Sequence[str | None], rule: str | None = None) -> TaskScore:
        """Parse every response with `rule` and compute the task's metrics against the items' gold answers."""
        rule = self.check_rule(rule)
        if len(items) != len(responses):
            raise DataFormatError(
                f"{self.name}: {len(responses)} responses for {len(items)} items; pass one response per item"
            )
        missing_gold = [item.item_id for item in items if item.gold is None]
        if missing_gold:
            raise DataFormatError(
                f"{self.name}: {len(missing_gold)} item(s) have no gold answer (first: {missing_gold[0]}); "
                "score against a file with a GT column"
            )
        parsed = [self.parse(response, rule) for response in responses]
        per_item = []
        for item, answer in zip(items, parsed):
            row: dict[str, Any] = {
                "item_id": item.item_id,
                "index": item.index,
                "gold": item.gold,
                "parsed": answer.value,
                "step": answer.step,
            }
            row.update(self._score_item(item, answer))
            per_item.append(row)
        unparseable = [position for position, answer in enumerate(parsed) if answer.value is None]
        n = len(items)
        metrics: dict[str, float] = {"n": n, "parse_rate": (n - len(unparseable)) / n if n else 0.0}
        metrics.update(self._aggregate(per_item, parsed))
        return TaskScore(task=self.name, rule=rule, metrics=metrics, per_item=per_item, unparseable=unparseable)

    def _score_item(self, item: Item, parsed: Parsed) -> dict[str, Any]:
        raise NotImplementedError

    def _aggregate(self, per_item: list[dict[str, Any]], parsed: list[Parsed]) -> dict[str, float]:
        raise NotImplementedError


class AccuracyTask(Task):
    """A task scored by exact match of one extracted answer against the gold answer."""

    primary_metric = "accuracy"

    def _score_item(self, item: Item, parsed: Parsed) -> dict[str, Any]:
        return {"correct": parsed.value is not None and parsed.value == item.gold}

    def _aggregate(self, per_item: list[dict[str, Any]], parsed: list[Parsed]) -> dict[str, float]:
        n = len(per_item)
        parseable = sum(answer.value is not None for answer in parsed)
        correct = sum(row["correct"] for row in per_item)
        return {
            "n_parseable": parseable,
            "n_correct": correct,
            "accuracy": correct / n if n else 0.0,
            "accuracy_parseable": correct / parseable if parseable else 0.0,
        }


class CveDescriptionPrompt:
    """Base-protocol layout shared by the tasks that answer from a CVE description (RCM, VSP).

    Each exemplar is "CVE Description: ..." followed by "Answer: <gold>", and
    the prompt ends with the target description and a bare "Answer:".
    """

    def _exemplar_key(self, item: Item) -> str:
        return item.fields.get("Description", "").strip()

    def _base_text(self, item: Item, exemplars: Sequence[Item]) -> str:
        blocks = [f"CVE Description: {_description(exemplar)}\nAnswer: {exemplar.gold}" for exemplar in exemplars]
        blocks.append(f"CVE Description: {_description(item)}\nAnswer:")
        return "\n\n".join(blocks)

    def _base_stop(self) -> list[str]:
        return ["\n\n", "\nCVE Description:"]

def _description(item: Item) -> str:
    if "Description" not in item.fields:
        raise DataFormatError(
            f"{item.task} item {item.item_id} has no Description; the base protocol needs items loaded from the TSV"
        )
    return " ".join(item.fields["Description"].split())
