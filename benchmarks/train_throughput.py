"""LoRA training throughput (tokens/s) and model FLOPs utilisation on a Qwen3-shaped model.

Random weights, random token ids and no downloads, so it runs on a machine
without network access. The 4b shape is Qwen3-4B-Instruct-2507's
architecture. Each measurement prints one summary line to stdout:

    python benchmarks/train_throughput.py --shape 4b                 # GPU: batch 4 x 4096, bf16
    python benchmarks/train_throughput.py --shape tiny --batch 2 --seq-len 256 --steps 3   # CPU smoke run

Model FLOPs per token follow the PaLM convention, 6 N + 12 L H S, where N
is the number of matmul parameters, L the layers, H the hidden size and S the
sequence length. They are counted as if all weights were trained, so the
figure compares with full fine-tuning reports. LoRA skips the weight
gradients of the frozen base, so the hardware executes about a third fewer
FLOPs than counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

# Dense bf16 peak TFLOP/s (without sparsity) as the vendors publish them. The
# first key found in torch.cuda.get_device_name() is used; check the figure
# against your card's data sheet and pass --peak-tflops when it differs.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.0,
    "H100": 989.0,  # SXM; the PCIe card is 756
    "A100": 312.0,
    "MI300X": 1307.0,
    "L40S": 362.0,
}

SHAPES: dict[str, dict[str, object]] = {
    # Qwen/Qwen3-4B-Instruct-2507 config.json.
    "4b": dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
               num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True,
               max_position_embeddings=262144, rope_parameters={"rope_type": "default", "rope_theta": 5000000.0}),
    # The tiny test model of ctiforge.testing.tiny.
    "tiny": dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                 max_position_embeddings=4096),
}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Measurement:
    label: str
    tokens_per_s: float
    step_s: float
    mfu: float | None
    peak_memory_gib: float | None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="4b")
    parser.add_argument("--batch", type=int, default=4, help="Sequences per optimiser step.")
    parser.add_argument("--seq-len", type=int, default=4096, help="Tokens per sequence.")
    parser.add_argument("--steps", type=int, default=10, help="Timed optimiser steps per measurement.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps before timing.")
    parser.add_argument("--lora-r", type=int, default=64)
    parser.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default="auto",
                        help="auto: bf16 on a CUDA GPU, fp32 on CPU.")
    parser.add_argument("--attention", default="auto",
                        help="auto: flash_attention_2 when installed on a CUDA GPU, otherwise sdpa.")
    parser.add_argument("--checkpointing", choices=["off", "on", "both"], default="both",
                        help="Gradient checkpointing setting(s) to measure.")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="Peak dense bf16 TFLOP/s of the GPU, when its name is not in the built-in table.")
    return parser.parse_args(argv)


def peak_tflops(device_name: str, override: float | None) -> float | None:
    if override is not None:
        return override
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in device_name:
            return value
    return None


def flops_per_token(config, seq_len: int) -> float:
    layers, hidden = config.num_hidden_layers, config.hidden_size
    attention = hidden * config.head_dim * (config.num_attention_heads * 2 + config.num_key_value_heads * 2)
    mlp = 3 * hidden * config.intermediate_size
    non_embedding = layers * (attention + mlp)
    # The output projection (tied to the embedding) is a matmul per token too.
    output = hidden * config.vocab_size
    return 6 * (non_embedding + output) + 12 * layers * hidden * seq_len


def build_model(args: argparse.Namespace, *, device, dtype, attention: str, checkpointing: bool):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**SHAPES[args.shape], initializer_range=0.02, use_cache=False)
    config._attn_implementation = attention
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3ForCausalLM(config).to(dtype)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_r, lora_dropout=0.05, target_modules=LORA_TARGETS,
                      task_type="CAUSAL_LM")
    return get_peft_model(model, lora), config


def measure(args: argparse.Namespace, *, checkpointing: bool) -> Measurement:
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if (args.dtype == "bf16" or (args.dtype == "auto" and cuda)) else torch.float32
    attention = args.attention
    if attention == "auto":
        import importlib.util

        attention = "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") else "sdpa"

    model, config = build_model(args, device=device, dtype=dtype, attention=attention, checkpointing=checkpointing)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    generator = torch.Generator(device="cpu").manual_seed(0)
    input_ids = torch.randint(0, config.vocab_size, (args.batch, args.seq_len), generator=generator).to(device)

    def step() -> None:
        loss = model(input_ids=input_ids, labels=input_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started

    tokens_per_s = args.batch * args.seq_len * args.steps / elapsed
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    peak = peak_tflops(name, args.peak_tflops) if cuda else None
    mfu = tokens_per_s * flops_per_token(config, args.seq_len) / (peak * 1e12) if peak else None
    memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    label = (f"shape={args.shape} device={name!r} dtype={str(dtype).removeprefix('torch.')} attention={attention} "
             f"batch={args.batch}x{args.seq_len} lora_r={args.lora_r} checkpointing={'on' if checkpointing else 'off'} "
             f"peak_tflops={peak if peak else 'n/a'}")
    del model, optimizer
    if cuda:
        torch.cuda.empty_cache()
    return Measurement(label, tokens_per_s, elapsed / args.steps, mfu, memory)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)
        print("note: no CUDA GPU; figures measure the CPU and have no MFU", file=sys.stderr)
    settings = {"off": [False], "on": [True], "both": [False, True]}[args.checkpointing]
    for checkpointing in settings:
        try:
            result = measure(args, checkpointing=checkpointing)
        except torch.cuda.OutOfMemoryError:
            print(f"shape={args.shape} batch={args.batch}x{args.seq_len} checkpointing="
                  f"{'on' if checkpointing else 'off'}: out of GPU memory")
            torch.cuda.empty_cache()
            continue
        mfu = f"{100 * result.mfu:.1f}%" if result.mfu is not None else "n/a"
        memory = f"{result.peak_memory_gib:.1f} GiB" if result.peak_memory_gib is not None else "n/a"
        print(f"{result.label}: {result.tokens_per_s:,.0f} tokens/s, {result.step_s:.3f} s/step, "
              f"MFU {mfu}, peak memory {memory}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
