"""Convert a model's transformer to an OpenVINO graph, once, in a process of its own.

    python -m rag.embedders.openvino_export MODEL_DIR OUT_DIR

The conversion traces the PyTorch model, so it needs torch; running it in a child process keeps
torch and the traced copy out of the indexing process, whose memory then holds only the graph.
The graph is written to a temporary folder beside OUT_DIR and renamed into place, so a reader
never sees half of one and two conversions at once both end with one whole graph.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

GRAPH = "model.xml"


def convert(model_dir: str, out_dir: Path) -> None:
    import openvino as ov
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    example = {"input_ids": torch.ones(2, 16, dtype=torch.long), "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    if getattr(model.config, "type_vocab_size", 0):  # a model with segment embeddings (BERT) takes their ids
        example["token_type_ids"] = torch.zeros(2, 16, dtype=torch.long)
    with torch.no_grad():
        graph = ov.convert_model(model, example_input=example)
    # Weights stay fp32 on disk: the precision is chosen when the graph is compiled.
    ov.save_model(graph, out_dir / GRAPH, compress_to_fp16=False)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    model_dir, out = argv[0], Path(argv[1])
    if (out / GRAPH).is_file():
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        convert(model_dir, work)
        try:
            os.rename(work, out)
        except OSError:  # another conversion finished first: its graph is the same
            if not (out / GRAPH).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
