"""The reference gateway: an executable model of API Gateway's data plane.

Configured in AWS's own setting names (`config.py`, `settings.py`, `aws_import.py`); one policy
core (`policy.py` documents it, `kernels.py` runs it) replays recorded arrivals (`engine.py`,
`replay.py`) and compares what-if runs (`compare.py`). CLI wiring is in `commands.py`.
"""
