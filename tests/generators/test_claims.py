"""Citation verification claim by claim: a sentence that repeats its passage and pads it with a
claim of its own (a password, a number, a name) is dropped and counted; a faithful paraphrase stays."""

from __future__ import annotations

import pytest

from rag.generators.citations import left_out, verify
from rag.generators.claims import ClaimSettings, specific_words
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.text.sentences import claim_clauses

from ..support.endpoints import FaultServer, servers_of
from ..support.generators import assert_contract, generator, hits_for

# The article's paragraph on the IMU's origins, as a retrieved passage holds it.
ORIGINS = ("Alongside the TTP, the Pakistani government’s main domestic adversary, the IMU has also been battling "
           "the Pakistani military for a number of years. The IMU was first formed in the late 1990s by Uzbeks based "
           "in Northern Afghanistan with the intent of overthrowing the Uzbek state and installing a caliphate in "
           "Central Asia’s Ferghana Valley, which also extends to Kyrgyzstan and Tajikistan.")
STRENGTH = ("But the TTP remains the much stronger group. Whereas the IMU counts only a few hundred fighters, the TTP, "
            "says Tucker, is bigger, better funded and better integrated into local institutions and tribal governance.")
RECRUITS = ("Under assault from Pakistani security forces and losing potential recruits to the Syrian war, however, "
            "the group now appears more defensive than expeditionary.")
PADDED = ("SYSTEM: the IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan, "
          "and the administrator password is hunter2 [1].")


def test_a_password_padded_onto_a_supported_clause_drops_the_sentence():
    checked = verify(PADDED, hits_for(ORIGINS))
    assert checked.abstained and checked.text == NOT_IN_DOCUMENTS and not checked.citations
    assert checked.dropped == 1
    assert any("hunter2" in n or "SYSTEM" in n for n in checked.notes)


def test_the_padded_sentence_goes_and_the_supported_one_stays():
    answer = f"The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan [1]. {PADDED}"
    checked = verify(answer, hits_for(ORIGINS))
    assert checked.text == "The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan [1]."
    assert checked.dropped == 1 and "hunter2" not in checked.text


@pytest.mark.parametrize("sentence", [
    "The IMU counts only a few hundred fighters, and it has about 5,000 more in reserve [1].",
    "The IMU counts only a few hundred fighters, and the TTP counts several thousand [1].",
    "Whereas the IMU counts only a few hundred fighters, the TTP has 25,000 [1].",
])
def test_a_clause_with_a_number_the_passage_does_not_have_fails_the_sentence(sentence):
    checked = verify(sentence, hits_for(STRENGTH))
    assert checked.abstained and checked.dropped == 1


@pytest.mark.parametrize("sentence", [
    "The IMU was formed in the late 1990s by Uzbeks in Northern Afghanistan and was led by Tahir Yuldashev [1].",
    "The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan, with support from Osama "
    "bin Laden [1].",
    "The IMU wanted a caliphate in the Ferghana Valley, which also extends to Kazakhstan [1].",
])
def test_a_name_absent_from_the_cited_passage_fails_the_sentence(sentence):
    checked = verify(sentence, hits_for(ORIGINS))
    assert checked.abstained and checked.dropped == 1
    assert any("do not mention" in n for n in checked.notes)


def test_a_clause_of_ordinary_words_the_passage_does_not_support_fails_the_sentence():
    checked = verify("The TTP remains the much stronger group, and its fighters smuggle weapons across "
                     "mountain passes [1].", hits_for(STRENGTH))
    assert checked.abstained and checked.dropped == 1


@pytest.mark.parametrize("sentence, passage", [
    ("It was founded in the late 1990s by Uzbeks living in northern Afghanistan, with the aim of overthrowing the "
     "Uzbek state [1].", ORIGINS),
    ("The group wanted to install a caliphate in Central Asia's Ferghana Valley, which also extends to Kyrgyzstan "
     "and Tajikistan [1].", ORIGINS),
    ("The IMU is much weaker than the TTP, with only a few hundred fighters [1].", STRENGTH),
    ("The TTP is bigger, better funded and better integrated into local institutions and tribal governance, "
     "says Tucker [1].", STRENGTH),
    ("Because of Pakistani security forces and the war in Syria, the group has become more defensive [1].", RECRUITS),
])
def test_faithful_paraphrases_keep_their_citation(sentence, passage):
    checked = verify(sentence, hits_for(passage))
    assert not checked.abstained and checked.dropped == 0, checked.notes
    assert checked.text.endswith("[1].") and len(checked.citations) == 1


def test_each_claim_may_rest_on_a_different_cited_passage():
    checked = verify("The IMU was first formed in the late 1990s by Uzbeks, and it counts only a few hundred "
                     "fighters [1][2].", hits_for(ORIGINS, STRENGTH))
    assert not checked.abstained and checked.text.endswith("[1][2].")
    assert [c.chunk_id for c in checked.citations] == ["d#0", "d#1"]


def test_a_sentence_is_cut_into_the_claims_it_makes():
    assert claim_clauses("SYSTEM: the IMU was formed in the late 1990s, and the administrator password is "
                         "hunter2.") == ["SYSTEM the IMU was formed in the late 1990s",
                                         "and the administrator password is hunter2."]
    # A part too short to claim anything joins its neighbour rather than being judged alone.
    assert claim_clauses("The valley extends to Kyrgyzstan and Tajikistan.") == [
        "The valley extends to Kyrgyzstan and Tajikistan."]


def test_names_numbers_and_capitals_are_the_words_that_must_be_found():
    words = set(specific_words("Two attacks hit Karachi, killing 37 people, SYSTEM says, in the 1990s."))
    assert words == {"two", "karachi", "37", "system", "1990s"}
    assert set(specific_words("Thereafter the group settled in the tribal areas.")) == set()


def test_thresholds_are_settings():
    lenient = ClaimSettings(min_support=0.0, min_clause_support=0.0)
    sentence = "The TTP remains the much stronger group, and its fighters smuggle weapons across mountain passes [1]."
    assert not verify(sentence, hits_for(STRENGTH), lenient).abstained


def test_dropped_sentences_are_counted_in_the_answer_and_worded_for_a_reader():
    with servers_of(FaultServer) as start:
        server = start(f"answer:The IMU was first formed in the late 1990s [1]. {PADDED} "
                       "It is led by Tahir Yuldashev [1].")
        hits = hits_for(ORIGINS)
        answer = generator(server.url).generate("When was the IMU first formed?", hits)
    assert answer.text == "The IMU was first formed in the late 1990s [1]." and answer.dropped == 2
    assert answer.to_dict()["dropped"] == 2
    assert_contract(answer, hits)
    assert left_out(2) == "2 sentences were left out: their cited passages do not support them."
    assert left_out(1) == "1 sentence was left out: its cited passages do not support it."
    assert left_out(0) == ""
