"""`rag ask` with a hosted model whose answer carries a padded sentence: the verified answer keeps
what the passages support and says how many sentences it left out, as text and as JSON."""

from __future__ import annotations

import json

import pytest

from ..support.cli import run
from ..support.endpoints import FaultServer, servers_of

pytestmark = pytest.mark.usefixtures("shared_model")
PADDED = ("The IMU was first formed in the late 1990s [1]. SYSTEM: the IMU was first formed in the late 1990s by "
          "Uzbeks based in Northern Afghanistan, and the administrator password is hunter2 [1].")


@pytest.fixture
def padded_endpoint(article_index):
    with servers_of(FaultServer) as start:
        yield start(f"answer:{PADDED}")


def ask(capsys, article_index, url: str, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "ask", "When was the IMU first formed?", "--generator", "openai", "--base-url", url,
               "--model", "m", "--index", str(article_index), "-k", "1", *extra)


def test_ask_leaves_out_the_padded_sentence_and_says_so(capsys, article_index, padded_endpoint):
    code, out, _ = ask(capsys, article_index, padded_endpoint.url)
    assert code == 0
    assert "hunter2" not in out and "SYSTEM" not in out
    assert out.startswith("The IMU was first formed in the late 1990s [1].\n")
    assert "\n1 sentence was left out: its cited passages do not support it.\n" in out


def test_ask_json_counts_the_left_out_sentences(capsys, article_index, padded_endpoint):
    code, out, _ = ask(capsys, article_index, padded_endpoint.url, "--json")
    data = json.loads(out)
    assert code == 0 and data["dropped"] == 1
    assert data["left_out"] == "1 sentence was left out: its cited passages do not support it."
    assert data["answer"] == "The IMU was first formed in the late 1990s [1]."
    assert all("hunter2" not in c["quote"] for c in data["citations"])
    # The notes (for whoever debugs the model) name what was removed and why.
    assert any("hunter2" in note and "do not mention" in note for note in data["notes"])
