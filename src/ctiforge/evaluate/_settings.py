"""Evaluation settings and the named presets that reproduce published protocols."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ctiforge.errors import ConfigError

ALL_TASKS = ("cti-rcm", "cti-mcq", "cti-vsp", "cti-ate", "cti-taa", "cti-rcm-2021")
DEFAULT_TASKS = ("cti-rcm", "cti-mcq")
RULES = ("strict", "lenient")

# The system prompt of the CTIBench authors' prediction notebook (see the
# `ctibench-paper` preset for the source).
CTIBENCH_SYSTEM_PROMPT = "You are a cybersecurity expert specializing in cyberthreat intelligence."


@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides which prompts are sent and how they are sampled."""

    tasks: tuple[str, ...] = DEFAULT_TASKS
    """CTIBench task names, in run order."""
    protocol: str = "ift"
    """"ift": the dataset's zero-shot prompt as one chat message; "base": a few-shot completion prompt."""
    shots: int = 5
    """Exemplars per prompt under the base protocol (ignored for ift)."""
    trials: int = 5
    """Independent samples per item; metrics are reported per trial and as mean and std."""
    temperature: float = 0.3
    top_p: float = 1.0
    max_tokens: int = 512
    """Maximum completion length in tokens."""
    seed: int | None = 0
    """Base seed; trial t sends seed + t. None sends no seed."""
    system_prompt: str | None = None
    """Optional system message put before the user message (prefixed to base prompts)."""
    limit: int | None = None
    """Evaluate only the first N items of each task."""
    preset: str | None = None
    """Name of the preset these settings started from, for the report."""

    def validate(self) -> EvalSettings:
        """Return self, or raise `ConfigError` listing every invalid setting."""
        problems = []
        unknown = [task for task in self.tasks if task not in ALL_TASKS]
        if unknown:
            problems.append(f"unknown task(s) {', '.join(unknown)} (choose from {', '.join(ALL_TASKS)} or 'all')")
        if not self.tasks:
            problems.append("no task selected")
        if self.protocol not in ("ift", "base"):
            problems.append(f"--protocol {self.protocol!r} is not 'ift' or 'base'")
        if self.trials < 1:
            problems.append(f"--trials {self.trials} must be at least 1")
        if not 0.0 <= self.temperature <= 2.0:
            problems.append(f"--temperature {self.temperature} must be between 0 and 2")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"--top-p {self.top_p} must be in (0, 1]")
        if self.max_tokens < 1:
            problems.append(f"--max-tokens {self.max_tokens} must be at least 1")
        if self.limit is not None and self.limit < 1:
            problems.append(f"--limit {self.limit} must be at least 1")
        if self.protocol == "base" and self.shots < 0:
            problems.append(f"--shots {self.shots} must not be negative")
        if problems:
            raise ConfigError("invalid evaluation settings: " + "; ".join(problems))
        return self

    def identity(self) -> dict[str, Any]:
        """Return the settings that decide what each response means (see the run store)."""
        return {
            "protocol": self.protocol,
            "shots": self.shots if self.protocol == "base" else 0,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "system_prompt": self.system_prompt,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    """Published evaluation settings, with the source they come from."""

    name: str
    """Preset name, which is also the protocol label of runs made with these settings."""
    source: str
    settings: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "foundation-sec-ift": Preset(
        name="foundation-sec-ift",
        source=(
            "The CyberSecQwen-4B evaluation run (reference-runs/cybersecqwen-4b-multi-trial-5x.json "
            "in the project's data folder): protocol ift, n_shot 0, 5 trials, temperature 0.3, "
            "max_tokens 512, on cti-rcm and cti-mcq. This harness also reports Foundation-Sec-8B-Instruct."
        ),
        settings={"tasks": ("cti-rcm", "cti-mcq"), "protocol": "ift", "trials": 5, "temperature": 0.3,
                  "top_p": 1.0, "max_tokens": 512, "system_prompt": None},
    ),
    "foundation-sec-base": Preset(
        name="foundation-sec-base",
        # NOTE: the Foundation-Sec-8B technical report (arXiv 2504.21039) evaluates
        # the base model with 5-shot prompts. Temperature 0, one trial and 16 new
        # tokens are this project's choice, not settings read from the report.
        source="Foundation-Sec-8B technical report (arXiv 2504.21039): 5-shot prompts for the base model.",
        settings={"tasks": ("cti-rcm", "cti-mcq"), "protocol": "base", "shots": 5, "trials": 1,
                  "temperature": 0.0, "top_p": 1.0, "max_tokens": 16, "system_prompt": None},
    ),
    "ctibench-paper": Preset(
        name="ctibench-paper",
        source=(
            "CTIBench authors' notebook evaluation/model-prediction.ipynb in github.com/xashru/cti-bench: "
            "temperature 0, top_p 1, seed 42, max_tokens 2048, system prompt "
            f"'{CTIBENCH_SYSTEM_PROMPT}', one response per item, the dataset's Prompt column as the user message."
        ),
        settings={"tasks": ("cti-rcm", "cti-mcq", "cti-vsp", "cti-taa", "cti-rcm-2021"), "protocol": "ift",
                  "trials": 1, "temperature": 0.0, "top_p": 1.0, "seed": 42, "max_tokens": 2048,
                  "system_prompt": CTIBENCH_SYSTEM_PROMPT},
    ),
}

PRESET_NAMES = tuple(PRESETS)

# Protocol labels that older reports carry, mapped to the preset names that
# replaced them. Both names denote the same settings.
LEGACY_PROTOCOL_LABELS = {"cybersecqwen-ift": "foundation-sec-ift", "foundation-sec-base-5shot": "foundation-sec-base"}


def apply_preset(name: str, base: EvalSettings | None = None, **overrides: Any) -> EvalSettings:
    """Return `base` (default settings when None) with the preset's values, then `overrides`, applied."""
    preset = PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"unknown --preset '{name}'; choose one of: {', '.join(PRESET_NAMES)}")
    settings = replace(base or EvalSettings(), preset=name, **preset.settings)
    return replace(settings, **overrides) if overrides else settings


def protocol_label(settings: dict[str, Any]) -> str:
    """Return the name of the preset whose settings these match (ignoring tasks and limit), or "custom"."""
    for preset in PRESETS.values():
        if all(_same(settings.get(key), value) for key, value in preset.settings.items() if key != "tasks"):
            return preset.name
    return "custom"


def canonical_protocol_label(label: str | None) -> str | None:
    """Return the current name of a protocol label, translating labels of older reports."""
    return LEGACY_PROTOCOL_LABELS.get(label, label) if label is not None else None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return list(left) == list(right)
    return left == right
