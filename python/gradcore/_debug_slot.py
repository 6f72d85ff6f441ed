"""Where the library looks for an active training doctor (gradcore.debug.doctor). It holds None
unless a doctor is active, so each check point in the library costs one global read when off."""
active = None
