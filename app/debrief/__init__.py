"""The debrief: a recorded session reviewed on a timeline, and its exports."""
