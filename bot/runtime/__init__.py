"""The running process: composition root, command line, demo, delivery worker, scheduler, clock, health."""
