"""The analysis engine: media stages (decode, keyframes, OCR, speech) and reasoning stages."""

import os

# Whisper runs on CTranslate2, whose OpenMP threads spin while they wait for work. The engine
# runs decoding, OCR and speech side by side on few cores, and spinning threads take the cores
# the others need: ~2 s of CPU lost on a 66 s recording (measured with bench/analysis.py).
# Read when the OpenMP runtime loads, so it is set before anything imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
