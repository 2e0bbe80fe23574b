"""The warehouse device worker: barcode scanners over serial (pyserial URLs: /dev/rfcomm0, pty
paths, ``loop://``, ``socket://``), checks each scan against the picker's current task, speaks
every step, and reports confirmed picks and mis-scans to the WaveWorkflow through the API."""
