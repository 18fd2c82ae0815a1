"""Sound devices (sounddevice / PortAudio): the only place that opens one. The mixing and
everything else is headless in :mod:`engine.audio`."""
