"""`ctiforge export gguf`: missing extra, Modelfile, and the llama.cpp round trip."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ctiforge.errors import DataFormatError
from ctiforge.export import chat_family, render_modelfile

needs_no_llamacpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is not None,
                                       reason="checks the error shown without the llamacpp extra")


@needs_no_llamacpp
def test_gguf_without_extra(cli, tiny_model: Path, tmp_path: Path) -> None:
    result = cli("export", "gguf", "--model", str(tiny_model), "--quant", "q8_0", "--out", str(tmp_path / "m.gguf"))
    assert result.returncode == 2
    assert "pip install 'ctiforge[llamacpp]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.gguf").exists()


def test_modelfile_chatml(tiny_model: Path) -> None:
    text = render_modelfile(tiny_model, "./m.gguf")
    assert text.startswith("FROM ./m.gguf\n")
    assert "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n" in text
    assert text.rstrip().endswith('PARAMETER stop "<|endoftext|>"')
    assert 'PARAMETER stop "<|im_end|>"' in text


def test_modelfile_llama3_family(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text("{{ '<|start_header_id|>' + message['role'] }}")
    assert chat_family(tmp_path) == "llama3"


def test_modelfile_unknown_template(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text("{{ '### Human: ' + message['content'] }}")
    with pytest.raises(DataFormatError, match="write the Ollama Modelfile TEMPLATE by hand"):
        chat_family(tmp_path)


@pytest.mark.llamacpp
@pytest.mark.parametrize("quant", ["f16"])
def test_gguf_round_trip(cli, merged_model: Path, tmp_path: Path, quant: str) -> None:
    # The tiny model's tokenizer is trained here, so llama.cpp's converter
    # cannot recognise it by hash; it splits text like GPT-2's byte-level BPE.
    out = tmp_path / f"model-{quant}.gguf"
    result = cli("export", "gguf", "--model", str(merged_model), "--quant", quant, "--out", str(out),
                 "--tokenizer-pre", "gpt-2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 0
    assert "round trip: tokens match, greedy output matches" in result.stdout
    assert (tmp_path / "Modelfile").read_text().startswith(f"FROM ./{out.name}")


@pytest.mark.llamacpp
def test_gguf_unknown_tokenizer_hint(cli, merged_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.gguf"
    result = cli("export", "gguf", "--model", str(merged_model), "--quant", "f16", "--out", str(out))
    assert result.returncode == 2
    assert "--tokenizer-pre" in result.stderr
    assert not out.exists()


@pytest.mark.llamacpp
def test_gguf_q8_mismatch_writes_nothing(cli, merged_model: Path, tmp_path: Path) -> None:
    # The tiny random model's logits are nearly tied, so 8-bit rounding changes
    # its greedy output. The check must then reject the export and leave no file.
    out = tmp_path / "model-q8_0.gguf"
    result = cli("export", "gguf", "--model", str(merged_model), "--quant", "q8_0", "--out", str(out),
                 "--tokenizer-pre", "gpt-2")
    assert result.returncode == 2
    assert "round-trip check failed" in result.stderr
    assert not out.exists()
    assert list(tmp_path.glob("*.partial")) == []
