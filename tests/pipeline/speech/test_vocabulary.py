"""The recogniser's prompt from the screen's words: names and labels, no numbers or prose."""

from __future__ import annotations

from app.pipeline.speech.vocabulary import vocabulary_prompt, vocabulary_terms


def test_vocabulary_prompt_keeps_names_and_drops_numbers_and_prose() -> None:
    terms = vocabulary_terms(
        [
            "Pricing — Example Shop",
            "Save settings",
            "Pay $12.00",
            "What payment methods do you accept?",
            "pricing",
            "Remember me",
            "a very long sentence that is not a label at all",
        ],
        max_words=60,
    )
    assert terms == ["Pricing", "Example Shop", "Save settings", "Remember me"]
    assert vocabulary_prompt(["Save settings", "Log in"], 60) == "Save settings, Log in."
    assert vocabulary_prompt([], 60) == ""
    labels = [f"Label {chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(100)]
    assert len(vocabulary_terms(labels, max_words=10)) == 5
