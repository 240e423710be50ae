"""The media stages: probing and decoding a recording, keyframe selection, thread priority."""
