"""Sound, headless: the world's sounds synthesised from the world state, placed around the
trainee's head and mixed to stereo blocks, one per session tick (DESIGN.md §4 "Audio").

Devices (microphones, speakers) live in ``app/audio``; nothing here touches one.

- :mod:`engine.audio.sources` — the synthesised sounds: the alarm, the patient monitor's
  beep, room tone, footsteps.
- :mod:`engine.audio.spatial` — stereo panning and distance attenuation relative to the head.
- :mod:`engine.audio.world` — :class:`~engine.audio.world.WorldAudio`, the mix a trainee
  hears at each tick.
"""

#: Sample rate of every signal here (Hz).
SAMPLE_RATE = 48_000
