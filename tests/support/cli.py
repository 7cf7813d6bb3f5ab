"""The `rag` command as a user runs it: in this process (sharing the session's model), or in a
fresh one (argv bytes that are not UTF-8, or what happens before the model loads)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    """`rag ARGS` in this process: the exit code, then what it printed to stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rag(cwd: Path, *args: str | bytes, env: dict[str, str] | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """`rag ARGS` in a fresh process working in `cwd`, the hub offline and no RAG_ setting inherited."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=text, cwd=cwd,
                          env={**clean, "HF_HUB_OFFLINE": "1", **(env or {})}, timeout=120, check=False)


def assert_one_clear_error(code: int, err: str, *must_say: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: error: "), err
    for words in must_say:
        assert words in lines[0]
