"""In-process backends: transformers on a tiny random Qwen3, the embedded mapper, missing extras."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ctiforge.backends import BACKEND_NAMES, get_backend
from ctiforge.errors import ConfigError, MissingDependencyError, UnknownIdError
from ctiforge.evaluate import EvalSettings, run_evaluation


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctiforge.testing.tiny import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny") / "qwen3")


@pytest.mark.slow
def test_hf_backend_runs_ift(tiny_model, ctibench_dir, tmp_path):
    import torch

    torch.set_num_threads(1)
    backend = get_backend("hf", model=str(tiny_model), batch_size=4)
    settings = EvalSettings(tasks=("cti-rcm", "cti-mcq"), trials=2, limit=3, max_tokens=6, temperature=0.3)
    outcome = run_evaluation(settings, backend=backend, run_dir=tmp_path / "run", data_dir=ctibench_dir,
                             progress=False, plots=False)
    rcm = outcome.report["tasks"]["cti-rcm"]
    assert outcome.received == 12
    assert rcm["n_trials_scored"] == 2
    assert rcm["complete"]
    assert rcm["tokens"]["completion"] > 0
    assert outcome.report["backend"]["attention"] in ("sdpa", "flash_attention_2")


@pytest.mark.slow
def test_hf_backend_base_protocol_stops(tiny_model, ctibench_dir, tmp_path):
    import torch

    torch.set_num_threads(1)
    backend = get_backend("hf", model=str(tiny_model), batch_size=2)
    settings = EvalSettings(tasks=("cti-mcq",), protocol="base", trials=1, limit=2, max_tokens=8, temperature=0.0)
    outcome = run_evaluation(settings, backend=backend, run_dir=tmp_path / "run", data_dir=ctibench_dir,
                             progress=False, plots=False)
    texts = [trial["text"] for item in outcome.report["tasks"]["cti-mcq"]["items"] for trial in item["trials"]]
    assert len(texts) == 2
    assert all("\n\n" not in text for text in texts)


@pytest.mark.gpu
def test_hf_backend_cuda_uses_bf16(tiny_model, ctibench_dir, tmp_path):
    backend = get_backend("hf", model=str(tiny_model), device="cuda")
    settings = EvalSettings(tasks=("cti-rcm",), trials=1, limit=4, max_tokens=6)
    outcome = run_evaluation(settings, backend=backend, run_dir=tmp_path / "run", data_dir=ctibench_dir,
                             progress=False, plots=False)
    assert outcome.report["backend"]["dtype"] == "bfloat16"
    assert outcome.received == 4


@pytest.mark.slow
def test_hf_backend_scores_labels(tiny_model):
    from ctiforge.backends import GenerationRequest, SamplingParams

    backend = get_backend("hf", model=str(tiny_model))
    request = GenerationRequest(key="q", params=SamplingParams(), text="Question: which letter?\nAnswer:")
    scores = backend.score_labels(request, [" A", " B", " C", " D"])
    assert len(scores) == 4
    assert all(score < 0 for score in scores)
    assert len(set(scores)) > 1


def test_mapper_backend_cli(cli, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("eval", "--backend", "mapper", "--tasks", "cti-rcm", "--data-dir", str(ctibench_dir),
                 "--run-dir", str(run_dir), "--limit", "50", "--trials", "1", "--no-progress")
    report = json.loads((run_dir / "report.json").read_text())
    rcm = report["tasks"]["cti-rcm"]
    assert result.returncode == 0, result.stderr
    assert rcm["summary"]["strict"]["parse_rate"] == 1.0
    assert rcm["summary"]["strict"]["mean"] > 0.2
    assert (run_dir / "report.md").is_file()
    assert (run_dir / "plots" / "cti-rcm-top-cwes.png").is_file()


def test_mapper_rejects_mcq(cli, ctibench_dir, tmp_path):
    result = cli("eval", "--backend", "mapper", "--tasks", "cti-mcq", "--data-dir", str(ctibench_dir),
                 "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "not supported by the 'mapper' backend" in result.stderr


def test_mapper_does_not_import_torch(ctibench_dir, tmp_path):
    import subprocess

    code = (
        "import sys\n"
        "from ctiforge.backends import get_backend\n"
        "from ctiforge.evaluate import EvalSettings, run_evaluation\n"
        f"run_evaluation(EvalSettings(tasks=('cti-rcm',), trials=1, limit=5), backend=get_backend('mapper'),"
        f" run_dir={str(tmp_path / 'run')!r}, data_dir={str(ctibench_dir)!r}, progress=False, plots=False)\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_vllm_missing_names_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingDependencyError) as caught:
        get_backend("vllm", model="any")
    assert "pip install 'ctiforge[vllm]'" in str(caught.value)


def test_llamacpp_missing_names_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError) as caught:
        get_backend("llamacpp", model="model.gguf")
    assert "pip install 'ctiforge[llamacpp]'" in str(caught.value)


def test_unknown_backend():
    with pytest.raises(UnknownIdError) as caught:
        get_backend("tgi")
    assert ", ".join(BACKEND_NAMES) in str(caught.value)


def test_openai_requires_model():
    with pytest.raises(ConfigError):
        get_backend("openai", model="", base_url="http://127.0.0.1:1/v1")
