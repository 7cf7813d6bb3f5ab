"""Short answers: the span of a quoted sentence that answers the question, and the sentence choice
that reads the question (reasons, follow-ups, headlines, two-part questions)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.core.records import Answer, Chunk, Citation, Hit, ShortAnswer
from rag.generators.extractive.generator import ExtractiveGenerator
from rag.generators.extractive.question_types import question_type
from rag.generators.extractive.short_answer import extract
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.ingest.loaders import load_documents

from ..conftest import ARTICLE

TEXT = load_documents([ARTICLE]).documents[0].text  # spans are offsets into the cleaned document


def short(question: str, sentence: str) -> str | None:
    found = extract(question, [sentence], set())
    return found[1].text if found else None


BY_TYPE = [
    # when / what year / what date
    ("When was OpenAI founded?", "OpenAI was founded in December 2015 by a group of researchers.", "December 2015"),
    ("In what year did the invasion push them out?", "They were driven out by the invasion in 2001.", "2001"),
    ("What is the release date of God of War (2018)?",
     "God of War was released on April 20, 2018, and on PC on January 14, 2022.", "April 20, 2018"),
    # how many / how much
    ("How many fighters does the group have?", "The group counts only a few hundred fighters.", "only a few hundred"),
    ("What was Tesla's revenue in Q1 2021?", "Tesla reported revenue of $10.4 billion in Q1 2021.", "$10.4 billion"),
    # who
    ("Who acquired WhatsApp?",
     "WhatsApp Inc. of Mountain View, California, which was acquired by Facebook in February 2014.", "Facebook"),
    ("Who is the Prime Minister of Pakistan?", "Pakistani Prime Minister Nawaz Sharif called it a threat.",
     "Nawaz Sharif"),
    ("Who was named the 2021 National Teacher of the Year?",
     "Juliana Urtubey, a special education teacher in Las Vegas, has been named the 2021 National Teacher of the Year.",
     "Juliana Urtubey"),
    # where / which place
    ("Where is the group based now?", "The group is now believed to be based in North Waziristan.", "North Waziristan"),
    ("Super Bowl 2021 location", "Super Bowl 2021 will take place in Tampa, Florida, in February.",
     "Tampa, Florida"),
    ("In which valley did they want a caliphate?", "They wanted a caliphate in Central Asia’s Ferghana Valley.",
     "Ferghana Valley"),
    # which / what X: organisations, lists, names
    ("Which university is he an associate of?", "He is an associate at George Washington University.",
     "George Washington University"),
    ("Which countries does the valley extend to?", "The valley also extends to Kyrgyzstan and Tajikistan.",
     "Kyrgyzstan and Tajikistan"),
    ("What is another name for the Pakistani Taliban?", "The Pakistani Taliban, also known as the TTP, fights on.",
     "TTP"),
    # what did X do: the phrase next to the question's words
    ("What did the military launch on Sunday?", "On Sunday, the military launched a long-delayed ground assault "
     "into its tribal regions.", "long-delayed ground assault"),
    # a choice between two named options
    ("Which group is stronger, the IMU or the TTP?", "But the TTP remains the much stronger group.", "TTP"),
]


@pytest.mark.parametrize("question, sentence, expected", BY_TYPE)
def test_the_short_answer_is_the_span_of_the_kind_asked_for(question, sentence, expected):
    assert short(question, sentence) == expected


@pytest.mark.parametrize("question", [
    "Why did the IMU's founders leave Uzbekistan?",
    "How does the group appear now?",
    "Did the IMU's early concerns extend to South Asia?",
])
def test_why_how_and_yes_no_questions_have_no_short_answer(question):
    assert question_type(question).kind is None
    assert short(question, "The founders were driven from Uzbekistan by a government crackdown in 1998.") is None


def test_words_the_question_already_says_are_not_an_answer():
    assert short("Who founded Registan?", "Registan was founded years ago.") is None


@pytest.mark.parametrize("question, sentence, expected", [
    # "the Paris podium", "the Afghan Taliban": a name qualifying the next noun is no answer.
    ("Who won the 2021 Tour de France?", "After 21 frantic stages that produced 13 stage winners in total, "
     "Tadej Pogačar stood atop the Paris podium as the 2021 Tour de France champion.", "Tadej Pogačar"),
    ("What is another name for the Pakistani Taliban?", "Pakistan fights the Pakistani Taliban, also known as the "
     "TTP, a homegrown group with links to the Afghan Taliban.", "TTP"),
])
def test_a_name_that_only_qualifies_the_question_words_is_not_the_answer(question, sentence, expected):
    assert short(question, sentence) == expected


def test_a_page_date_line_is_not_when_something_happened():
    sentence = "Jun 4, 2023 ... The iPhone 11, released on September 20, 2019, is now considered older."
    assert short("When was the iPhone 11 released?", sentence) == "September 20, 2019"


# --- the generator: the span is part of a citation, and the sentence choice reads the question ---

def test_the_short_answer_is_an_exact_span_inside_its_citation(pipeline):
    answer = pipeline.ask("When was the IMU first formed?")
    s = answer.short_answer
    assert s is not None and s.text in ("late 1990s", "the late 1990s")
    cite = next(c for c in answer.citations if c.marker == s.marker)
    assert cite.start <= s.start < s.end <= cite.end
    assert TEXT[s.start:s.end] == s.text
    assert answer.to_dict()["short_answer"]["text"] == s.text


def test_a_why_question_quotes_the_reason_before_a_thereafter(pipeline):
    answer = pipeline.ask("Why did the IMU move to Pakistan?")
    quotes = " ".join(c.quote for c in answer.citations)
    assert "driven from Uzbekistan by a government crackdown" in quotes
    assert answer.short_answer is None


def test_a_follow_up_nothing_speaks_to_is_declined(pipeline):
    history = [("When was the IMU first formed?", "In the late 1990s [1].")]
    answer = pipeline.ask("Who leads it?", history)
    assert answer.abstained and answer.text == NOT_IN_DOCUMENTS
    # ... while one the documents answer still is.
    assert "North Waziristan" in pipeline.ask("Where is it based now?", history).text


def test_the_headline_is_no_answer_unless_asked_for(pipeline):
    answer = pipeline.ask("Why is the IMU seeking to raise its profile in Pakistan with recent attacks?")
    headline = "With Recent Attacks, the IMU Seeks to Raise Its Profile in Pakistan"
    assert all(c.quote != headline for c in answer.citations)
    asked = pipeline.ask("What is the headline of the article?")
    assert asked.short_answer is not None and asked.short_answer.text == headline


def test_a_plain_text_files_first_line_is_its_headline_and_no_answer(embedder, config):
    """A .txt file is titled by its name, so its headline is only known as the first line standing
    alone above a blank line; "Diary of the keeper." must not answer who the keeper is."""
    gen = ExtractiveGenerator(embedder=embedder)
    text = ("Diary of the Zanzibar lighthouse keeper.\n\nOmari Juma keeps the Zanzibar lighthouse and has kept the "
            "light since 1998.")
    hit = Hit(Chunk("zanzibar.txt#0", "zanzibar.txt", text, 0, len(text), 30, title="zanzibar"), 1.0, 1)
    answer = gen.generate("Who is the Zanzibar lighthouse keeper?", [hit])
    assert answer.short_answer is not None and answer.short_answer.text == "Omari Juma"
    assert all(not c.quote.startswith("Diary") for c in answer.citations)
    # Further down, a short line above a blank line is an ordinary sentence.
    later = Hit(replace(hit.chunk, start=500, end=500 + len(text)), 1.0, 1)
    assert any(c.text.startswith("Diary") for _, c in gen.score_sentences("Who is the lighthouse keeper?", [later]))


def _hit(doc_id: str, text: str, rank: int) -> Hit:
    return Hit(Chunk(f"{doc_id}#0", doc_id, text, 0, len(text), len(text.split())), 1.0 / rank, rank)


def test_a_two_part_question_quotes_both_parts(embedder, config):
    gen = ExtractiveGenerator(embedder=embedder)
    hits = [_hit("instagram", "Facebook acquired Instagram in April 2012 for about $1 billion in cash and stock.", 1),
            _hit("whatsapp", "WhatsApp was acquired by Facebook in February 2014 for approximately $19 billion.", 2),
            _hit("other", "Snapchat declined an offer from Facebook in 2013.", 3)]
    answer = gen.generate("When was Instagram acquired, and when was WhatsApp acquired?", hits)
    assert {c.doc_id for c in answer.citations} == {"instagram", "whatsapp"}
    assert answer.short_answer is None  # one span cannot answer both


def test_of_two_close_sentences_the_one_holding_what_is_asked_for_is_quoted(embedder, config):
    gen = ExtractiveGenerator(embedder=embedder)
    hits = [_hit("game", "Nintendo shipped Splatoon 2, a shooter game for the Switch, on July 21, 2017, to "
                         "positive reviews.", 1),
            _hit("trailer", "Apr 13, 2017 ... Splatoon 2 release date slated for July ... New four-player mode "
                            "revealed. What is the release date of Splatoon 2?", 2)]
    answer = gen.generate("When was Splatoon 2 released?", hits)
    assert [c.doc_id for c in answer.citations] == ["game"]
    assert answer.short_answer is not None and answer.short_answer.text == "July 21, 2017"
    # The choice moves the quote, not the confidence that decides abstention.
    plain = gen.score_sentences("When was Splatoon 2 released?", hits)
    assert answer.confidence == plain[0][0]
    # ... and each citation keeps its sentence's own support.
    assert answer.citations[0].support == next(sc for sc, c in plain if c.hit.chunk.doc_id == "game")


def test_the_page_leads_with_the_short_answer_bold_escaped_and_linked_to_its_passage():
    from ui.conversations import short_of, sources_of
    from ui.render import answer_html

    text = "<b>late*</b>"
    hit = Hit(Chunk("d#0", "d", text, 0, len(text), 3), 1.0, 1)
    answer = Answer(question="q", text=f"{text} [1].", hits=(hit,),
                    citations=(Citation(1, "d#0", "d", 0, len(text), text),),
                    short_answer=ShortAnswer(text, 1, "d", 0, len(text), "time"))
    bubble = answer_html({"answer": answer.text, "sources": sources_of(answer), "short": short_of(answer)})
    assert bubble.startswith('<strong class="rag-short">&lt;b&gt;late*&lt;/b&gt;</strong> '
                             '<a class="rag-cite" href="#rag-src-0-1">[1]</a><br><br>&lt;b&gt;')
    abstained = replace(answer, abstained=True)
    assert "rag-short" not in answer_html({"answer": "x", "sources": [], "short": short_of(abstained),
                                           "abstained": True})