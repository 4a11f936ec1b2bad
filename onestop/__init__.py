"""The process entry point: the `onestop` command, process wiring and start-up. Sits above every layer."""
