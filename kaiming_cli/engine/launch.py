"""Whether this process is a rank of a ``torchrun`` job: the environment alone, no numpy, no torch.

``verify`` asks it on every run; the machinery of a job (engine/distributed.py: the collectives, the ranks'
shares, and its imports) loads only when the answer is yes.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The variables ``torchrun`` (and SLURM/Kubernetes launchers using it) set for every rank.
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched(environ: Mapping[str, str]) -> bool:
    """True under ``torchrun`` (its four variables are set), unless ``KAIMING_DISTRIBUTED=0`` opts out: a
    subprocess of a training rank inherits them, and must not try to join that job's rendezvous."""
    return environ.get("KAIMING_DISTRIBUTED", "1") != "0" and all(environ.get(v) for v in LAUNCH_VARIABLES)
