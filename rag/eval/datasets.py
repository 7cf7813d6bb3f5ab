"""Evaluation datasets: a `.jsonl` of questions, or a directory with `qa.jsonl` + `corpus.jsonl`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.core.errors import DatasetError, QuestionError
from rag.eval.splits import SPLITS, Split, select
from rag.text.questions import clean_question

# Fields of a question that can name its relevant documents. `doc_ids` is the default; a set may
# add a stricter list (realtimeqa's `own_doc_ids`: only the documents its own search found).
RELEVANCE_FIELDS = ("doc_ids", "own_doc_ids")


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    doc_ids: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    split: str | None = None  # the half the question names for itself; None: by its id (rag.eval.splits)

    @property
    def relevant_units(self) -> int:
        return len(self.doc_ids) + len(self.evidence)


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: Path
    questions: tuple[EvalQuestion, ...]
    corpus: Path | None = None  # documents shipped with the dataset, if any
    meta: dict = field(default_factory=dict)
    relevance: str = "doc_ids"  # the field that `EvalQuestion.doc_ids` was read from
    split: Split | None = None  # the half of the set these questions are; None: all of them

    @property
    def answerable(self) -> list[EvalQuestion]:
        return [q for q in self.questions if q.answerable]

    @property
    def unanswerable(self) -> list[EvalQuestion]:
        return [q for q in self.questions if not q.answerable]


def load_eval_set(path: str | Path, *, max_question_chars: int = 4000, relevance: str = "doc_ids",
                  split: Split | None = None) -> EvalSet:
    """`relevance`: the field (one of RELEVANCE_FIELDS) whose documents count as relevant; `split`:
    only the questions of that half (tune or held-out)."""
    eval_set = _load_eval_set(path, max_question_chars=max_question_chars, relevance=relevance)
    if split is None:
        return eval_set
    questions = tuple(select(eval_set.questions, split))
    if not questions:
        raise DatasetError(f"{eval_set.path} has no questions in the {split} half")
    return replace(eval_set, questions=questions, split=split)


def _load_eval_set(path: str | Path, *, max_question_chars: int, relevance: str) -> EvalSet:
    check_relevance_field(relevance)
    path = Path(path)
    if path.is_dir():
        qa = path / "qa.jsonl"
        if not qa.is_file():
            raise DatasetError(f"{path} is a directory without qa.jsonl; give a .jsonl file or a dataset directory")
        corpus = path / "corpus.jsonl"
        return EvalSet(path.name, path, tuple(read_questions(qa, max_question_chars, relevance)),
                       corpus if corpus.is_file() else None, relevance=relevance)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist")
    return EvalSet(path.stem, path, tuple(read_questions(path, max_question_chars, relevance)), relevance=relevance)


def check_relevance_field(relevance: str) -> None:
    if relevance not in RELEVANCE_FIELDS:
        raise DatasetError(f"unknown relevance field {relevance!r}; choose one of {', '.join(RELEVANCE_FIELDS)}")


def read_questions(path: Path, max_question_chars: int = 4000, relevance: str = "doc_ids") -> list[EvalQuestion]:
    """`doc_ids` of each question is read from the `relevance` field."""
    check_relevance_field(relevance)
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise DatasetError(f"{where}: not valid JSON ({str(exc)[:120]})") from None
        except RecursionError:
            raise DatasetError(f"{where}: JSON nested too deeply to read; a question is one flat object") from None
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: expected a JSON object")
        missing = [k for k in ("id", "question", "answerable") if k not in item]
        if missing:
            raise DatasetError(f"{where}: missing field(s) {', '.join(missing)}")
        if not isinstance(item["id"], str) or not item["id"].strip():
            raise DatasetError(f"{where}: 'id' must be non-empty text, not {_kind(item['id'])}")
        if not isinstance(item["question"], str) or not item["question"].strip():
            raise DatasetError(f"{where}: 'question' must be non-empty text, not {_kind(item['question'])}")
        try:
            # The checks every entry point applies, here, before an index is built for nothing.
            clean_question(item["question"], max_question_chars)
        except QuestionError as exc:
            raise DatasetError(f"{where}: {exc}") from None
        if not isinstance(item["answerable"], bool):
            raise DatasetError(f"{where}: 'answerable' must be true or false, not {_kind(item['answerable'])}")
        qid = item["id"]
        if qid in seen:
            raise DatasetError(f"{where}: duplicate id {qid!r}")
        seen.add(qid)
        fields = {}
        for key in ("answers", relevance, "evidence"):
            value = item.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DatasetError(f"{where}: '{key}' must be a list of strings, not {_kind(value)}")
            fields[key] = tuple(value)
        if item["answerable"] and not fields["answers"]:
            raise DatasetError(f"{where}: an answerable question needs 'answers'")
        if relevance != "doc_ids" and item["answerable"] and not item.get(relevance):
            # Asked for by name: falling back to other fields would report figures of another kind.
            raise DatasetError(f"{where}: relevance is judged by '{relevance}', but this answerable question "
                               f"has {'an empty' if relevance in item else 'no'} '{relevance}'; add it, or use "
                               "--relevance doc_ids")
        if item["answerable"] and not (fields[relevance] or fields["evidence"]):
            raise DatasetError(f"{where}: an answerable question needs 'doc_ids' or 'evidence' to judge retrieval")
        declared = item.get("split")
        if declared is not None and declared not in SPLITS:
            raise DatasetError(f"{where}: 'split' must be one of {', '.join(SPLITS)}")
        questions.append(EvalQuestion(qid, item["question"], fields["answers"], item["answerable"],
                                      fields[relevance], fields["evidence"], declared))
    if not questions:
        raise DatasetError(f"{path} holds no questions")
    return questions


def _kind(value: object) -> str:
    """What a JSON value is, in a few words (never the value itself unless a short number)."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        shown = str(value)
        return f"the number {shown if len(shown) <= 20 else shown[:17] + '...'}"
    if isinstance(value, str):
        return "text" if value.strip() else "empty text"
    if isinstance(value, list):
        wrong = [v for v in value if not isinstance(v, str)]
        return f"a list holding {_kind(wrong[0])}" if wrong else "a list"
    return "a JSON object"


def check_doc_ids(questions: tuple[EvalQuestion, ...] | list[EvalQuestion], known: set[str]) -> None:
    unknown = sorted({d for q in questions for d in q.doc_ids if d not in known})
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise DatasetError(f"{len(unknown)} doc id(s) named by the questions are not in the corpus: {shown}; "
                           "check --corpus")
