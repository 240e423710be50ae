"""The reasoning stages: descriptions, evidence, signals, findings, the summary and sections.

They take what the media stages measured and the recorder captured, and report only what
those observations show; every finding and section cites the evidence it rests on.
"""
